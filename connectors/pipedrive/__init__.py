"""Pipedrive: activities (meetings, calls) through webhooks v2 and polling, CRM writes on deals and persons."""
