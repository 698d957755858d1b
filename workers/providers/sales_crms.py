"""Pipedrive and ActiveCampaign built from settings: clients, the reconcile source, the CRM adapters the engine
writes outcomes through, their webhook connectors and the format checks `noshow connectors check` prints.
No network here."""

from __future__ import annotations

from typing import Any

from connectors.local.remote_creates import CreateLog
from connectors.oauth import BasicClientRefreshGrant, TokenSource
from connectors.pipedrive.client import PipedriveClient
from connectors.pipedrive.crm import PipedriveCrm
from connectors.pipedrive.inbound import PipedriveInbound
from connectors.pipedrive.source import PipedriveSource
from connectors.settings import secret
from policies.schema import CrmRules
from workers.providers.checks import url_problem
from workers.providers.tokens import _manager
from workers.settings import Settings

TITLES = {"pipedrive": "Pipedrive"}
CANONICAL = {"outcome", "missed_date", "recovery_status", "next_appointment", "risk_flag", "owner_task",
             "customer_note", "source_campaign"}


# ---------------------------------------------------------------------------------------------- Pipedrive


def pipedrive_token(s: Settings) -> TokenSource | None:
    """The OAuth manager (client authenticated with HTTP Basic at the token endpoint) when the app is configured."""
    p = s.pipedrive
    refresh = secret(p.refresh_token)
    if not (p.client_id and refresh):
        return None
    grant = BasicClientRefreshGrant(p.client_id, secret(p.client_secret) or "", refresh)
    return _manager(s, "pipedrive", p.client_id, p.token_url, grant)


def pipedrive_client(s: Settings) -> PipedriveClient:
    p = s.pipedrive
    return PipedriveClient(secret(p.api_token), oauth=None if secret(p.api_token) else pipedrive_token(s) or "",
                           api_domain=(p.api_domain or "").strip() or None)


def pipedrive_source(s: Settings) -> PipedriveSource:
    p = s.pipedrive
    return PipedriveSource(pipedrive_client(s), types=p.activity_types, no_show_outcomes=p.no_show_outcomes)


def pipedrive_inbound(s: Settings) -> PipedriveInbound:
    p = s.pipedrive
    return PipedriveInbound((p.webhook_user or "").strip(), secret(p.webhook_password) or "",
                            types=p.activity_types, no_show_outcomes=p.no_show_outcomes)


def pipedrive_problems(s: Settings) -> list[str]:
    p = s.pipedrive
    problems: list[str] = []
    if not secret(p.api_token) and not (p.client_id and secret(p.refresh_token)):
        problems.append("missing NOSHOW_PIPEDRIVE_API_TOKEN (or NOSHOW_PIPEDRIVE_CLIENT_ID + "
                        "NOSHOW_PIPEDRIVE_REFRESH_TOKEN)")
    if p.client_id and secret(p.refresh_token) and not secret(p.client_secret) and not secret(p.api_token):
        problems.append("missing NOSHOW_PIPEDRIVE_CLIENT_SECRET")
    urls = {"NOSHOW_PIPEDRIVE_TOKEN_URL": p.token_url, "NOSHOW_PIPEDRIVE_API_DOMAIN": p.api_domain}
    problems += [x for x in (url_problem(v, k) for k, v in urls.items() if v) if x]
    unknown = sorted(set(p.fields) - CANONICAL)
    if unknown:
        problems.append("NOSHOW_PIPEDRIVE_FIELDS names unknown fields: " + ", ".join(unknown)[:200])
    if p.owner_id and not p.owner_id.strip().isdigit():
        problems.append("NOSHOW_PIPEDRIVE_OWNER_ID must be a numeric Pipedrive user id")
    return problems


def pipedrive_crm(s: Settings, crm: Any, rules: CrmRules) -> PipedriveCrm:
    p = s.pipedrive
    outcome = p.no_show_outcomes[0] if p.no_show_outcomes else None
    return PipedriveCrm(pipedrive_client(s), CreateLog(crm.db, "pipedrive"), rules, p.fields,
                        (p.owner_id or "").strip() or None, crm.contact, task_type=p.task_type,
                        no_show_outcome=outcome)


# ---------------------------------------------------------------------------------------------- selection


def crm_problems(s: Settings) -> list[str]:
    return pipedrive_problems(s) if s.routing.crm_provider == "pipedrive" else []


def remote_crm(s: Settings, crm: Any, rules: CrmRules) -> PipedriveCrm | None:
    return pipedrive_crm(s, crm, rules) if s.routing.crm_provider == "pipedrive" else None
