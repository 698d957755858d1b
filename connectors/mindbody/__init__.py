"""Mindbody: appointments and class visits through the Webhooks API and Public API v6 polling, and a calendar."""
