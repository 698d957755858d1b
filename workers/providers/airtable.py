"""Airtable built from settings: the client (personal access token), the polled source (webhook payload cursor
when a webhook is configured), the outcome writer, the webhook route and the checks `noshow connectors check`
prints. No network here."""

from __future__ import annotations

from typing import Any

from connectors.airtable.client import AirtableClient
from connectors.airtable.inbound import AirtableInbound
from connectors.airtable.outcomes import AirtableOutcomes
from connectors.airtable.source import AirtableSource
from connectors.settings import secret
from connectors.sheets.outcomes import column_problems
from policies.schema import CrmRules
from workers.providers.checks import url_problem
from workers.settings import Settings

TITLE = "Airtable"


def airtable_client(s: Settings) -> AirtableClient:
    return AirtableClient(secret(s.airtable.token) or "", base_url=s.airtable.base_url)


def airtable_source(s: Settings) -> AirtableSource:
    a = s.airtable
    return AirtableSource(airtable_client(s), a.base_id or "", (a.table or "").strip(), a.webhook_id,
                          default_timezone=a.timezone)


def airtable_needs(s: Settings) -> dict[str, str | None]:
    return {"NOSHOW_AIRTABLE_BASE_ID": s.airtable.base_id, "NOSHOW_AIRTABLE_TABLE": s.airtable.table}


def airtable_problems(s: Settings) -> list[str]:
    a = s.airtable
    problems = [] if secret(a.token) else ["missing NOSHOW_AIRTABLE_TOKEN"]
    problems += [f"missing {k}" for k, v in airtable_needs(s).items() if not (v or "").strip()]
    problems += [x for x in [url_problem(a.base_url, "NOSHOW_AIRTABLE_BASE_URL")] if x]
    refused = column_problems(a.outcome_fields)
    if refused:
        problems.append("NOSHOW_AIRTABLE_OUTCOME_FIELDS: " + "; ".join(refused)[:200])
    return problems


def airtable_crm(s: Settings, crm: Any, rules: CrmRules) -> AirtableOutcomes:
    a = s.airtable
    return AirtableOutcomes(airtable_client(s), a.base_id or "", (a.table or "").strip(), a.outcome_fields, rules)


def airtable_inbound(s: Settings) -> AirtableInbound:
    a = s.airtable
    return AirtableInbound(secret(a.mac_secret) or "", a.base_id or "", a.webhook_id or "")
