"""Mindbody built from settings: the v6 client, its reconcile source, the calendar, the webhook connector (with
the follow-up that reads the client's email and phone, which the deliveries do not carry), the format checks
`noshow connectors check` prints and whether its data is handled as health data. No network here."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from connectors.contract import RawRequest, WebhookResult
from connectors.mindbody.calendar import MindbodyCalendar, parse_calendar
from connectors.mindbody.client import MindbodyClient
from connectors.mindbody.inbound import MindbodyInbound, mindbody_contact
from connectors.mindbody.source import MindbodySource
from connectors.settings import secret
from policies.health import health_sources
from workers.providers.checks import url_problem
from workers.settings import Settings

log = structlog.get_logger(__name__)

API_ENV = "NOSHOW_MINDBODY_API_KEY"
NEEDS = ("NOSHOW_MINDBODY_SITE_ID", "NOSHOW_MINDBODY_USERNAME", "NOSHOW_MINDBODY_PASSWORD")


def api_configured(s: Settings) -> bool:
    m = s.mindbody
    return bool(secret(m.api_key) and (m.site_id or "").strip() and (m.username or "").strip()
                and secret(m.password))


def mindbody_problems(s: Settings) -> list[str]:
    """Format problems of the Mindbody settings that are set (no network)."""
    m = s.mindbody
    problems: list[str] = []
    site = (m.site_id or "").strip()
    if site and not site.lstrip("-").isdigit():
        problems.append("NOSHOW_MINDBODY_SITE_ID must be the numeric site id")
    if m.calendar and parse_calendar(m.calendar.strip()) is None:
        problems.append("NOSHOW_MINDBODY_CALENDAR must be <sessionTypeId>@<locationId>")
    if not 5 <= m.slot_minutes <= 480:
        problems.append("NOSHOW_MINDBODY_SLOT_MINUTES must be between 5 and 480")
    problems += [p for p in [url_problem(m.base_url, "NOSHOW_MINDBODY_BASE_URL")] if p]
    return problems


def api_missing(s: Settings) -> list[str]:
    m = s.mindbody
    given = {"NOSHOW_MINDBODY_SITE_ID": m.site_id, "NOSHOW_MINDBODY_USERNAME": m.username,
             "NOSHOW_MINDBODY_PASSWORD": secret(m.password)}
    return [k for k in NEEDS if not (given[k] or "").strip()]


def mindbody_client(s: Settings) -> MindbodyClient:
    m = s.mindbody
    return MindbodyClient(secret(m.api_key) or "", (m.site_id or "").strip(), (m.username or "").strip(),
                          secret(m.password), base_url=m.base_url, time_zone=m.time_zone)


def is_health(s: Settings) -> bool:
    return "mindbody" in deployment_health_sources(s)


def mindbody_source(s: Settings) -> MindbodySource:
    """The window (appointments, and the classes whose visits are read) reaches back as far as reconciliation
    looks (NOSHOW_RECONCILE_MAX_AGE_DAYS)."""
    return MindbodySource(mindbody_client(s), back=s.reconcile.max_age, health=is_health(s))


def mindbody_calendar(s: Settings) -> MindbodyCalendar:
    m = s.mindbody
    return MindbodyCalendar(mindbody_client(s), default_calendar=(m.calendar or "").strip() or None,
                            slot_minutes=m.slot_minutes)


def mindbody_inbound(s: Settings) -> MindbodyInbound:
    return MindbodyInbound(secret(s.mindbody.signature_key) or "", time_zone=s.mindbody.time_zone,
                           health=is_health(s))


def mindbody_people(s: Settings) -> Callable[[RawRequest, WebhookResult], WebhookResult] | None:
    """The follow-up that reads each delivery's client (email, mobile phone: the deliveries name only the id and,
    for appointments, the name), when the API credentials are set."""
    if not api_configured(s):
        return None
    client, health = mindbody_client(s), is_health(s)

    def after(request: RawRequest, result: WebhookResult) -> WebhookResult:
        ids = {e.appointment.contact.contact_id.removeprefix("mindbody:") for e in result.events
               if e.appointment.contact.contact_id.startswith("mindbody:") and not e.appointment.contact.phone}
        if not ids:
            return result
        try:
            found = client.clients(sorted(ids))
        except Exception as exc:  # the event stands without the details; reconciliation can add them later
            log.warning("mindbody_client_details_unavailable", error=type(exc).__name__)
            return result
        for i, event in enumerate(result.events):
            person = found.get(event.appointment.contact.contact_id.removeprefix("mindbody:"))
            if person is None:
                continue
            contact = mindbody_contact(person.get("Id"), event.appointment.appointment_id, person.get("FirstName"),
                                       person.get("LastName"), person.get("Email"), person.get("MobilePhone"),
                                       health=health)
            appointment = event.appointment.model_copy(update={"contact": contact})
            result.events[i] = event.model_copy(update={"appointment": appointment})
        return result

    return after


def deployment_health_sources(s: Settings) -> frozenset[str]:
    """The sources this deployment handles as health data (Mindbody only when NOSHOW_MINDBODY_HEALTH=true)."""
    return health_sources(frozenset({"mindbody"}) if s.mindbody.health else frozenset())
