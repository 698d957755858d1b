"""The business's own app as a message channel: signed outbound webhooks (Standard Webhooks)."""
