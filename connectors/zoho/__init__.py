"""Zoho CRM: Meetings (the `Events` module) through watch notifications and polling, CRM writes."""
