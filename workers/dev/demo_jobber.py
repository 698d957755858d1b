"""`noshow demo --source jobber`: the records the polled demo writes on a Jobber account through the engine's
GraphQL client: a client with one property and its email and phone (`clientCreate`), a job on that property
(`jobCreate`) and one visit that ended ten minutes ago and was never completed (`visitCreate`), which Jobber
reports as LATE (https://developer.getjobber.com/docs/using_jobbers_api/api_queries_and_mutations). The poll
(or the `VISIT_CREATE` webhook's poll) reads it as missed."""

from __future__ import annotations

from datetime import datetime, timedelta

from connectors.contract import PermanentProviderError
from workers.dev.demo_customer import Customer
from workers.settings import Settings

DEMO_ADDRESS = {"street1": "1 Demo Street", "city": "Springfield", "province": "IL", "postalCode": "62701",
                "country": "United States"}


def jobber_urls(s: Settings) -> list[str]:
    return [s.jobber.token_url, s.jobber.api_url]


def jobber_problem(s: Settings) -> str | None:
    return None


def jobber_create(s: Settings, c: Customer, start: datetime, end: datetime) -> str:
    from workers.providers.jobber import jobber_client

    client = jobber_client(s)
    _, property_id = client.create_client({
        "firstName": c.first, "lastName": f"{c.last} (noshow demo {c.ref})",
        "emails": [{"description": "MAIN", "primary": True, "address": c.email}],
        "phones": [{"description": "MOBILE", "primary": True, "number": c.phone}],
        "properties": [{"address": DEMO_ADDRESS}]})
    if property_id is None:
        raise PermanentProviderError("jobber: the client create answered no property", code="no_property")
    job = client.create_job(property_id, f"noshow demo {c.ref}")
    # LATE is "an incomplete visit whose end time has passed": the visit ended before the poll reads it
    length = end - start
    ended = start - timedelta(minutes=1)
    return client.create_visit(job, f"noshow demo {c.ref}", ended - length, ended)
