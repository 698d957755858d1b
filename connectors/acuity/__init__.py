"""Acuity Scheduling: webhooks, REST client, calendar and polled source."""
