"""Freshdesk built from settings: the client, the webhook connector with its requester follow-up, the reconcile
source, the CRM adapter and the format checks `noshow connectors check` prints. No network here."""

from __future__ import annotations

from typing import Any

from connectors.freshdesk.client import FreshdeskClient
from connectors.freshdesk.inbound import FreshdeskInbound
from connectors.freshdesk.source import FreshdeskSource, contact_of
from connectors.helpdesk.crm import HelpdeskCrm
from connectors.local.remote_creates import CreateLog
from connectors.settings import secret
from policies.schema import CrmRules
from workers.providers.helpdesk_kit import FollowUp, desk_problems, requester_follow_up
from workers.settings import Settings

TITLE = "Freshdesk"


def freshdesk_client(s: Settings) -> FreshdeskClient:
    f = s.freshdesk
    return FreshdeskClient(f.url, secret(f.api_key) or "")


def freshdesk_inbound(s: Settings) -> FreshdeskInbound:
    f = s.freshdesk
    return FreshdeskInbound(secret(f.webhook_token), (f.webhook_user or "").strip() or None,
                            secret(f.webhook_password), header_name=f.webhook_header, statuses=f.statuses)


def freshdesk_people(s: Settings) -> FollowUp | None:
    if not s.freshdesk.configured:
        return None
    return requester_follow_up("freshdesk", freshdesk_client(s).contact, contact_of)


def freshdesk_source(s: Settings) -> FreshdeskSource:
    f = s.freshdesk
    return FreshdeskSource(freshdesk_client(s), f.reason_field, statuses=f.statuses,
                           appointment_field=f.appointment_field, start_field=f.start_field)


def freshdesk_problems(s: Settings) -> list[str]:
    f = s.freshdesk
    problems = desk_problems("FRESHDESK", None if secret(f.api_key) else "NOSHOW_FRESHDESK_API_KEY",
                             ("NOSHOW_FRESHDESK_DOMAIN", f.domain, f.base_url), f.statuses, f.fields)
    if any(not str(v).startswith("cf_") for v in f.fields.values()):
        problems.append("NOSHOW_FRESHDESK_FIELDS values must be custom field names (cf_...)")
    return problems


def freshdesk_crm(s: Settings, crm: Any, rules: CrmRules) -> HelpdeskCrm:
    f = s.freshdesk
    return HelpdeskCrm(freshdesk_client(s), CreateLog(crm.db, "freshdesk"), rules, f.fields, source="freshdesk",
                       ticket_ids_are_appointments=f.appointment_field is None, follow_up=f.follow_up,
                       default_owner=f.owner_id, contact_lookup=crm.contact)
