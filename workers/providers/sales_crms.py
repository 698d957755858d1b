"""Pipedrive, ActiveCampaign and GoHighLevel built from settings: clients, their reconcile sources, the
GoHighLevel calendar, the CRM adapters the engine
writes outcomes through, their webhook connectors and the format checks `noshow connectors check` prints.
No network here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from connectors.activecampaign.client import ActiveCampaignClient
from connectors.activecampaign.crm import ActiveCampaignCrm
from connectors.activecampaign.inbound import ActiveCampaignInbound
from connectors.activecampaign.source import ActiveCampaignSource
from connectors.contract import RawRequest, WebhookResult
from connectors.gohighlevel.calendar import GoHighLevelCalendar
from connectors.gohighlevel.client import GoHighLevelClient
from connectors.gohighlevel.crm import GoHighLevelCrm
from connectors.gohighlevel.inbound import GoHighLevelInbound
from connectors.gohighlevel.source import GoHighLevelSource
from connectors.local.remote_creates import CreateLog
from connectors.oauth import BasicClientRefreshGrant, TokenSource
from connectors.pipedrive.client import PipedriveClient
from connectors.pipedrive.crm import PipedriveCrm
from connectors.pipedrive.inbound import PipedriveInbound
from connectors.pipedrive.source import PipedriveSource, person_contact
from connectors.settings import secret
from policies.schema import CrmRules
from workers.providers.checks import url_problem
from workers.providers.tokens import _manager
from workers.settings import Settings

log = structlog.get_logger(__name__)

TITLES = {"pipedrive": "Pipedrive", "activecampaign": "ActiveCampaign", "gohighlevel": "GoHighLevel"}
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


def pipedrive_people(s: Settings) -> Callable[[RawRequest, WebhookResult], WebhookResult] | None:
    """The follow-up that reads the activity's person (name, email, phone: the webhook names only its id), when
    the API credentials are set."""
    p = s.pipedrive
    if not (secret(p.api_token) or (p.client_id and secret(p.refresh_token))):
        return None
    client = pipedrive_client(s)

    def after(request: RawRequest, result: WebhookResult) -> WebhookResult:
        for i, event in enumerate(result.events):
            person = event.appointment.contact.contact_id.removeprefix("pipedrive:")
            if not person.isdigit():
                continue
            try:
                found = client.record("persons", person)
            except Exception as exc:  # the event stands without the details; reconciliation reads them later
                log.warning("pipedrive_person_unavailable", error=type(exc).__name__)
                continue
            contact = person_contact(event.appointment.contact.contact_id, found)
            result.events[i] = event.model_copy(update={"appointment": event.appointment.model_copy(
                update={"contact": contact})})
        return result

    return after


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


# ---------------------------------------------------------------------------------------------- ActiveCampaign


def activecampaign_client(s: Settings) -> ActiveCampaignClient:
    a = s.activecampaign
    return ActiveCampaignClient(secret(a.api_token) or "", (a.api_url or "").strip())


def activecampaign_source(s: Settings) -> ActiveCampaignSource:
    return ActiveCampaignSource(activecampaign_client(s), missed_stages=s.activecampaign.missed_stages)


def activecampaign_inbound(s: Settings) -> ActiveCampaignInbound:
    a = s.activecampaign
    return ActiveCampaignInbound(secret(a.webhook_token) or "", missed_stages=a.missed_stages)


def activecampaign_problems(s: Settings) -> list[str]:
    a = s.activecampaign
    env = {"NOSHOW_ACTIVECAMPAIGN_API_URL": a.api_url, "NOSHOW_ACTIVECAMPAIGN_API_TOKEN": secret(a.api_token)}
    problems = [f"missing {name}" for name, value in env.items() if not (value or "").strip()]
    if a.api_url:
        problems += [x for x in [url_problem(a.api_url, "NOSHOW_ACTIVECAMPAIGN_API_URL")] if x]
    unknown = sorted(set(a.fields) - CANONICAL)
    if unknown:
        problems.append("NOSHOW_ACTIVECAMPAIGN_FIELDS names unknown fields: " + ", ".join(unknown)[:200])
    if any(not str(v).isdigit() for v in a.fields.values()):
        problems.append("NOSHOW_ACTIVECAMPAIGN_FIELDS values must be numeric custom field ids")
    return problems


def activecampaign_crm(s: Settings, crm: Any, rules: CrmRules) -> ActiveCampaignCrm:
    a = s.activecampaign
    return ActiveCampaignCrm(activecampaign_client(s), CreateLog(crm.db, "activecampaign"), rules, a.fields,
                             (a.owner_id or "").strip() or None, crm.contact, task_type=a.task_type)


# ---------------------------------------------------------------------------------------------- GoHighLevel


def gohighlevel_client(s: Settings) -> GoHighLevelClient:
    g = s.gohighlevel
    return GoHighLevelClient(secret(g.access_token) or "", (g.location_id or "").strip(), base_url=g.base_url)


def gohighlevel_source(s: Settings) -> GoHighLevelSource:
    """Polls NOSHOW_GOHIGHLEVEL_GROUP_ID's calendars when set, else NOSHOW_GOHIGHLEVEL_CALENDAR_ID; the window
    reaches back as far as reconciliation looks (NOSHOW_RECONCILE_MAX_AGE)."""
    g = s.gohighlevel
    group = (g.group_id or "").strip() or None
    return GoHighLevelSource(gohighlevel_client(s), calendar_id=None if group else (g.calendar_id or "").strip(),
                             group_id=group, back=s.reconcile.max_age)


def gohighlevel_inbound(s: Settings) -> GoHighLevelInbound:
    return GoHighLevelInbound(secret(s.gohighlevel.webhook_public_key) or "")


def gohighlevel_people(s: Settings) -> Callable[[RawRequest, WebhookResult], WebhookResult] | None:
    """The follow-up that reads the appointment's contact (the webhook names only its id), when the API is set."""
    g = s.gohighlevel
    if not (secret(g.access_token) and g.location_id):
        return None
    client = gohighlevel_client(s)

    def after(request: RawRequest, result: WebhookResult) -> WebhookResult:
        for i, event in enumerate(result.events):
            contact_id = event.appointment.contact.contact_id
            own = contact_id.removeprefix("gohighlevel:")
            if own == contact_id or not own.isalnum():
                continue
            try:
                found = client.contact(own)
            except Exception as exc:  # the event stands without the details
                log.warning("gohighlevel_contact_unavailable", error=type(exc).__name__)
                continue
            name = " ".join(str(found.get(k) or "") for k in ("firstName", "lastName")).strip()
            contact = event.appointment.contact.model_copy(update={
                "name": name[:200] or None, "email": (str(found.get("email") or "")[:254] or None),
                "phone": (str(found.get("phone") or "")[:32] or None)})
            result.events[i] = event.model_copy(update={"appointment": event.appointment.model_copy(
                update={"contact": contact})})
        return result

    return after


def gohighlevel_calendar(s: Settings) -> GoHighLevelCalendar:
    g = s.gohighlevel
    return GoHighLevelCalendar(gohighlevel_client(s), (g.calendar_id or "").strip() or None, time_zone=g.time_zone)


def gohighlevel_problems(s: Settings) -> list[str]:
    g = s.gohighlevel
    env = {"NOSHOW_GOHIGHLEVEL_ACCESS_TOKEN": secret(g.access_token), "NOSHOW_GOHIGHLEVEL_LOCATION_ID": g.location_id}
    problems = [f"missing {name}" for name, value in env.items() if not (value or "").strip()]
    problems += [x for x in [url_problem(g.base_url, "NOSHOW_GOHIGHLEVEL_BASE_URL")] if x]
    unknown = sorted(set(g.fields) - CANONICAL)
    if unknown:
        problems.append("NOSHOW_GOHIGHLEVEL_FIELDS names unknown fields: " + ", ".join(unknown)[:200])
    return problems


def gohighlevel_crm(s: Settings, crm: Any, rules: CrmRules) -> GoHighLevelCrm:
    g = s.gohighlevel
    return GoHighLevelCrm(gohighlevel_client(s), CreateLog(crm.db, "gohighlevel"), rules, g.fields,
                          (g.user_id or "").strip() or None)


# ---------------------------------------------------------------------------------------------- selection


PROBLEMS = {"pipedrive": pipedrive_problems, "activecampaign": activecampaign_problems,
            "gohighlevel": gohighlevel_problems}
CRMS: dict[str, Callable[[Settings, Any, CrmRules], PipedriveCrm | ActiveCampaignCrm | GoHighLevelCrm]] = {
    "pipedrive": pipedrive_crm, "activecampaign": activecampaign_crm, "gohighlevel": gohighlevel_crm}


def crm_problems(s: Settings) -> list[str]:
    check = PROBLEMS.get(s.routing.crm_provider)
    return check(s) if check else []


def remote_crm(s: Settings, crm: Any, rules: CrmRules) -> PipedriveCrm | ActiveCampaignCrm | GoHighLevelCrm | None:
    build = CRMS.get(s.routing.crm_provider)
    return build(s, crm, rules) if build else None
