"""Mailchimp Marketing API: audience webhooks into the consent ledger, reschedule tags and journey triggers out."""
