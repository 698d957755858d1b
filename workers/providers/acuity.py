"""Acuity Scheduling built from settings: the client, the webhook with its follow-up (the ping names only the
appointment: its times, type and client are read with `GET /appointments/{id}`), the polled source, the calendar
and the format checks `noshow connectors check` prints. No network here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog

from connectors.acuity.calendar import AcuityCalendar
from connectors.acuity.client import AcuityClient, calendar_key
from connectors.acuity.inbound import AcuityInbound, appointment_event
from connectors.acuity.source import AcuitySource
from connectors.contract import RawRequest, WebhookResult
from connectors.settings import secret
from workers.providers.checks import url_problem
from workers.settings import Settings

log = structlog.get_logger(__name__)
CREDENTIALS = "NOSHOW_ACUITY_USER_ID + NOSHOW_ACUITY_API_KEY"


def acuity_client(s: Settings) -> AcuityClient:
    a = s.acuity
    return AcuityClient((a.user_id or "").strip(), secret(a.api_key) or "", base_url=a.base_url)


def acuity_inbound(s: Settings) -> AcuityInbound:
    return AcuityInbound(secret(s.acuity.api_key) or "")


def acuity_details(s: Settings) -> Callable[[RawRequest, WebhookResult], WebhookResult]:
    """The follow-up that reads each pinged appointment; an event whose read fails stands as the ping said, and
    the poll fills in the rest."""
    a = s.acuity
    client = acuity_client(s)

    def after(request: RawRequest, result: WebhookResult) -> WebhookResult:
        for i, event in enumerate(result.events):
            try:
                found = client.appointment(event.appointment.appointment_id)
            except Exception as exc:  # the event stands without the details; reconciliation reads them later
                log.warning("acuity_appointment_unavailable", error=type(exc).__name__)
                continue
            result.events[i] = appointment_event(event, found, event.appointment.source, a.no_show_labels,
                                                 a.attended_labels)
        return result

    return after


def acuity_source(s: Settings) -> AcuitySource:
    a = s.acuity
    return AcuitySource(acuity_client(s), back=min(s.reconcile.max_age, timedelta(days=30)),
                        no_show_labels=a.no_show_labels, attended_labels=a.attended_labels)


def acuity_calendar(s: Settings, contact_lookup: Callable[[str], Any]) -> AcuityCalendar:
    a = s.acuity
    default = calendar_key(a.appointment_type_id, a.calendar_id) if a.appointment_type_id else None
    return AcuityCalendar(acuity_client(s), contact_lookup, default_calendar=default, slot_minutes=a.slot_minutes)


def acuity_problems(s: Settings) -> list[str]:
    a = s.acuity
    problems = [] if a.configured else [f"missing {CREDENTIALS}"]
    problems += [x for x in [url_problem(a.base_url, "NOSHOW_ACUITY_BASE_URL")] if x]
    return problems
