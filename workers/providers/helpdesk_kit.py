"""What the help-desk builders share: the webhook follow-up that reads the requester's name, email and phone
(the webhook names only the requester's id), and the CRM settings checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import structlog

from connectors.contract import RawRequest, WebhookResult
from connectors.helpdesk.tickets import EVENTS, StatusMap
from domain.models import Contact
from workers.providers.checks import url_problem

log = structlog.get_logger(__name__)

CANONICAL = {"outcome", "missed_date", "recovery_status", "next_appointment", "risk_flag", "owner_task",
             "customer_note", "source_campaign"}

FollowUp = Callable[[RawRequest, WebhookResult], WebhookResult]


def requester_follow_up(source: str, read: Callable[[str], Mapping[str, Any]],
                        contact: Callable[[str, Mapping[str, Any]], Contact]) -> FollowUp:
    def after(request: RawRequest, result: WebhookResult) -> WebhookResult:
        for i, event in enumerate(result.events):
            contact_id = event.appointment.contact.contact_id
            own = contact_id.removeprefix(f"{source}:")
            if not own.isdigit():
                continue
            try:
                found = read(own)
            except Exception as exc:  # the event stands without the details; reconciliation reads them later
                log.warning("helpdesk_requester_unavailable", source=source, error=type(exc).__name__)
                continue
            result.events[i] = event.model_copy(update={"appointment": event.appointment.model_copy(
                update={"contact": contact(contact_id, found)})})
        return result

    return after


def desk_problems(env: str, credentials: str | None, where: tuple[str, str | None, str | None],
                  statuses: Mapping[str, str], fields: Mapping[str, str]) -> list[str]:
    """Format rules every desk shares: `credentials` names what is missing (None when set), `where` is (the
    account's name variable, its value, the base URL override), then the status map and the written fields."""
    name, account, base_url = where
    problems = [f"missing {credentials}"] if credentials else []
    if not (account or base_url):
        problems.append(f"missing {name}")
    if base_url:
        problems += [x for x in [url_problem(base_url, f"NOSHOW_{env}_BASE_URL")] if x]
    return problems + mapping_problems(env, statuses, fields)


def mapping_problems(env: str, statuses: Mapping[str, str], fields: Mapping[str, str]) -> list[str]:
    """Format rules for the status map (NOSHOW_<X>_STATUSES) and the written fields (NOSHOW_<X>_FIELDS)."""
    problems: list[str] = []
    try:
        StatusMap(statuses)
    except ValueError:
        problems.append(f"NOSHOW_{env}_STATUSES values must be one of " + ", ".join(EVENTS))
    unknown = sorted(set(fields) - CANONICAL)
    if unknown:
        problems.append(f"NOSHOW_{env}_FIELDS names unknown fields: " + ", ".join(unknown)[:200])
    return problems
