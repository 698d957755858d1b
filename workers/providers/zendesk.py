"""Zendesk built from settings: the client, the webhook connector with its requester follow-up, the reconcile
source, the CRM adapter and the format checks `noshow connectors check` prints. No network here."""

from __future__ import annotations

from typing import Any

from connectors.helpdesk.crm import HelpdeskCrm
from connectors.local.remote_creates import CreateLog
from connectors.settings import secret
from connectors.zendesk.client import ZendeskClient
from connectors.zendesk.inbound import ZendeskInbound
from connectors.zendesk.source import ZendeskSource, user_contact
from policies.schema import CrmRules
from workers.providers.helpdesk_kit import FollowUp, desk_problems, requester_follow_up
from workers.settings import Settings

TITLE = "Zendesk"
CREDENTIALS = "NOSHOW_ZENDESK_EMAIL + NOSHOW_ZENDESK_API_TOKEN (or NOSHOW_ZENDESK_OAUTH_TOKEN)"


def zendesk_client(s: Settings) -> ZendeskClient:
    z = s.zendesk
    return ZendeskClient(z.url, (z.email or "").strip() or None, secret(z.api_token),
                         oauth=secret(z.oauth_token))


def zendesk_inbound(s: Settings) -> ZendeskInbound:
    z = s.zendesk
    return ZendeskInbound(secret(z.webhook_secret) or "", z.tolerance_seconds, statuses=z.statuses)


def zendesk_people(s: Settings) -> FollowUp | None:
    if not s.zendesk.configured:
        return None
    return requester_follow_up("zendesk", zendesk_client(s).user, user_contact)


def zendesk_source(s: Settings) -> ZendeskSource:
    z = s.zendesk
    return ZendeskSource(zendesk_client(s), z.status_field_id or "", statuses=z.statuses,
                         appointment_field_id=z.appointment_field_id, start_field_id=z.start_field_id)


def zendesk_problems(s: Settings) -> list[str]:
    z = s.zendesk
    token = (z.email and secret(z.api_token)) or secret(z.oauth_token)
    problems = desk_problems("ZENDESK", None if token else CREDENTIALS,
                             ("NOSHOW_ZENDESK_SUBDOMAIN", z.subdomain, z.base_url), z.statuses, z.fields)
    if any(not str(v).isdigit() for v in z.fields.values()):
        problems.append("NOSHOW_ZENDESK_FIELDS values must be numeric ticket field ids")
    return problems


def zendesk_crm(s: Settings, crm: Any, rules: CrmRules) -> HelpdeskCrm:
    z = s.zendesk
    return HelpdeskCrm(zendesk_client(s), CreateLog(crm.db, "zendesk"), rules, z.fields, source="zendesk",
                       ticket_ids_are_appointments=z.appointment_field_id is None, follow_up=z.follow_up,
                       default_owner=z.owner_id, contact_lookup=crm.contact)
