"""Square Appointments built from settings: the client, the webhook with its follow-up (a booking names only the
customer id: the name, email and phone are read with RetrieveCustomer), the polled source, the calendar and the
format checks `noshow connectors check` prints. No network here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog

from connectors.contract import RawRequest, WebhookResult
from connectors.settings import secret
from connectors.square.calendar import SquareCalendar
from connectors.square.client import SquareClient
from connectors.square.inbound import SquareInbound, calendar_key
from connectors.square.source import SquareSource, customer_contact
from workers.providers.checks import url_problem
from workers.settings import Settings

log = structlog.get_logger(__name__)


def square_client(s: Settings) -> SquareClient:
    q = s.square
    return SquareClient(secret(q.access_token) or "", base_url=q.base_url, version=q.version)


def square_inbound(s: Settings) -> SquareInbound:
    q = s.square
    return SquareInbound(secret(q.signature_key) or "", notification_url=(q.notification_url or "").strip() or None)


def square_people(s: Settings) -> Callable[[RawRequest, WebhookResult], WebhookResult] | None:
    """The follow-up that reads each booking's customer, when the access token is set."""
    if not s.square.configured:
        return None
    client = square_client(s)

    def after(request: RawRequest, result: WebhookResult) -> WebhookResult:
        for i, event in enumerate(result.events):
            contact_id = event.appointment.contact.contact_id
            own = contact_id.removeprefix("square:")
            if own == contact_id or not own:
                continue
            try:
                found = client.customer(own)
            except Exception as exc:  # the event stands without the details
                log.warning("square_customer_unavailable", error=type(exc).__name__)
                continue
            result.events[i] = event.model_copy(update={"appointment": event.appointment.model_copy(
                update={"contact": customer_contact(contact_id, found)})})
        return result

    return after


def square_source(s: Settings) -> SquareSource:
    back = min(s.reconcile.max_age, timedelta(days=7))
    return SquareSource(square_client(s), location_id=(s.square.location_id or "").strip() or None, back=back,
                        ahead=timedelta(days=31) - back)


def square_calendar(s: Settings, contact_lookup: Callable[[str], Any]) -> SquareCalendar:
    q = s.square
    default = calendar_key(q.location_id, q.service_variation_id) if q.location_id and q.service_variation_id \
        else None
    return SquareCalendar(square_client(s), contact_lookup, default_calendar=default)


def square_problems(s: Settings) -> list[str]:
    q = s.square
    problems = [] if q.configured else ["missing NOSHOW_SQUARE_ACCESS_TOKEN"]
    problems += [x for x in [url_problem(q.base_url, "NOSHOW_SQUARE_BASE_URL")] if x]
    if q.notification_url:
        problems += [x for x in [url_problem(q.notification_url, "NOSHOW_SQUARE_NOTIFICATION_URL")] if x]
    if bool(q.location_id) != bool(q.service_variation_id):
        problems.append("NOSHOW_SQUARE_LOCATION_ID and NOSHOW_SQUARE_SERVICE_VARIATION_ID go together")
    return problems
