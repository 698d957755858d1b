"""Jobber: visits and jobs through the GraphQL API, webhooks that name the changed item, notes and reschedules."""
