"""Which providers are connected: inbound webhook connectors, message channels, reviewer notifiers, and the
calendar and CRM the engine books on and writes outcomes to, built from settings (secrets come from the
environment). Anything not configured stays on the local default.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import structlog
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.contract import InboundConnector, MessageChannel, RawRequest, ReviewNotifier, WebhookResult
from connectors.inbound import InboundBase
from connectors.standard_webhooks import StandardWebhooksInbound
from domain.models import Channel

if TYPE_CHECKING:

    from connectors.google.inbound import ChannelStore
    from policies.schema import CrmRules

log = structlog.get_logger(__name__)

CalendarProvider = Literal["local", "calcom", "calendly", "google", "outlook"]
CrmProvider = Literal["local", "hubspot"]


class ProviderSettings(BaseSettings):
    """Provider secrets (NOSHOW_*). Twilio, SendGrid and Slack read their own TWILIO_*, SENDGRID_*, SLACK_*."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_", env_file=os.environ.get("NOSHOW_SETTINGS_FILE", ".env"),
                                      extra="ignore")

    calcom_webhook_secret: SecretStr | None = None
    calendly_signing_key: SecretStr | None = None
    graph_client_state: SecretStr | None = None
    hubspot_client_secret: SecretStr | None = None
    zoom_secret_token: SecretStr | None = None
    google_channels: bool = False
    sms_provider: Literal["local", "twilio"] = "local"
    email_provider: Literal["local", "sendgrid"] = "local"
    review_notifier: Literal["local", "slack"] = "local"
    slack_reviewers: str = ""  # Slack user ids allowed to decide reviews from Slack, comma-separated

    # where the engine reads availability and books (holds stay local), and where outcomes are written
    calendar_provider: CalendarProvider = "local"
    crm_provider: CrmProvider = "local"
    # API credentials: the same variables reconciliation polls with (workers/reconcile.py)
    calcom_api_key: SecretStr | None = None
    calcom_base_url: str = "https://api.cal.com/v2"
    calcom_event_type_id: str | None = None  # books appointments that came from other sources
    calcom_time_zone: str = "UTC"
    calendly_token: SecretStr | None = None
    calendly_base_url: str = "https://api.calendly.com"
    calendly_event_type: str | None = None  # event type URI for appointments from other sources
    google_access_token: SecretStr | None = None
    google_base_url: str = "https://www.googleapis.com/calendar/v3"
    google_calendar_id: str | None = None
    google_send_updates: Literal["all", "externalOnly", "none"] = "all"
    graph_access_token: SecretStr | None = None
    graph_base_url: str = "https://graph.microsoft.com/v1.0"
    graph_user: str | None = None
    hubspot_access_token: SecretStr | None = None
    hubspot_base_url: str = "https://api.hubapi.com"
    hubspot_owner_id: str | None = None  # owns tasks whose owner is not a HubSpot owner
    hubspot_create_contacts: bool = True  # create a HubSpot contact when none has the customer's email


@dataclass
class ProviderCheck:
    name: str
    status: Literal["ok", "off", "error"]
    detail: str


def _secret(value: SecretStr | None) -> str | None:
    raw = value.get_secret_value() if value is not None else ""
    return raw or None


class InboundWithFollowUp(InboundBase):
    """An inbound connector with a step after parsing; authentication, dedupe and replay are the inner one's.

    Google and Graph pings name no appointment: the follow-up asks for that source's reconciliation
    (`WebhookResult.sync_sources`). A HubSpot meeting event carries only the meeting id: the follow-up reads the
    meeting's times and contact so the case can reach the customer."""

    def __init__(self, inner: InboundBase, after: Callable[[RawRequest, WebhookResult], WebhookResult]) -> None:
        self.inner = inner
        self.name = inner.name
        self.replay = inner.replay
        self.after = after

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        self.inner.check_signature(request, now)

    def signature_value(self, request: RawRequest) -> str | None:
        return self.inner.signature_value(request)

    def dedupe_key(self, request: RawRequest) -> str | None:
        return self.inner.dedupe_key(request)

    def verify(self, request: RawRequest, now: datetime) -> None:
        self.inner.verify(request, now)

    def parse(self, request: RawRequest) -> WebhookResult:
        return self.after(request, self.inner.parse(request))

    def __getattr__(self, name: str) -> Any:  # sync_needed, changes, channels ... of the inner connector
        return getattr(self.inner, name)


def _sync_when_needed(inner: Any, source: str) -> Callable[[RawRequest, WebhookResult], WebhookResult]:
    def after(request: RawRequest, result: WebhookResult) -> WebhookResult:
        # a connector that names its own reconcile source (per Google channel) is left to do so
        if not result.sync_sources and inner.sync_needed(request):
            result.sync_sources.append(source)
        return result

    return after


def _hubspot_details(ps: ProviderSettings) -> Callable[[RawRequest, WebhookResult], WebhookResult]:
    from connectors.hubspot.client import HubSpotClient
    from connectors.hubspot.crm import HubSpotMeetings

    meetings = HubSpotMeetings(HubSpotClient(_secret(ps.hubspot_access_token) or "", base_url=ps.hubspot_base_url))

    def after(request: RawRequest, result: WebhookResult) -> WebhookResult:
        for i, event in enumerate(result.events):
            try:
                appointment = meetings.appointment(event.appointment.appointment_id)
            except Exception as exc:  # the event stands without the details; reconciliation can add them later
                log.warning("hubspot_meeting_details_unavailable", error=type(exc).__name__)
                continue
            if appointment is not None:
                result.events[i] = event.model_copy(update={"appointment": appointment})
        return result

    return after


def inbound_connectors(ps: ProviderSettings, secrets: list[str], channel_store: ChannelStore | None = None,
                       ) -> tuple[dict[str, InboundConnector], list[ProviderCheck]]:
    """The `/webhooks/{provider}` routes: `events` (Standard Webhooks) always, each provider when configured.
    `channel_store`: the Google push channels this deployment opened (in memory when not given)."""
    checks: list[ProviderCheck] = []
    routes: dict[str, InboundConnector] = {}

    def add(name: str, build: object, configured: bool, what: str) -> None:
        if not configured:
            checks.append(ProviderCheck(name, "off", f"not configured ({what})"))
            return
        try:
            routes[name] = build()  # type: ignore[operator]
            checks.append(ProviderCheck(name, "ok", f"webhook at /webhooks/{name}"))
        except Exception as exc:  # a bad secret format must say which provider and why, not crash start-up
            checks.append(ProviderCheck(name, "error", f"{type(exc).__name__}: {exc}"))

    add("events", lambda: StandardWebhooksInbound(secrets), bool(secrets), "NOSHOW_WEBHOOK_SECRET")

    def calcom() -> InboundConnector:
        from connectors.calcom.inbound import CalcomInbound

        return CalcomInbound(_secret(ps.calcom_webhook_secret) or "")  # type: ignore[return-value]

    def calendly() -> InboundConnector:
        from connectors.calendly.inbound import CalendlyInbound

        return CalendlyInbound(_secret(ps.calendly_signing_key) or "")  # type: ignore[return-value]

    def outlook() -> InboundConnector:
        from connectors.outlook.inbound import OutlookInbound

        states = (_secret(ps.graph_client_state) or "").split(",")
        inner = OutlookInbound(states)
        return InboundWithFollowUp(inner, _sync_when_needed(inner, "outlook"))  # type: ignore[return-value]

    def hubspot() -> InboundConnector:
        from connectors.hubspot.inbound import HubSpotInbound

        inner = HubSpotInbound(_secret(ps.hubspot_client_secret) or "")
        if _secret(ps.hubspot_access_token) is None:
            return inner  # type: ignore[return-value]
        return InboundWithFollowUp(inner, _hubspot_details(ps))  # type: ignore[return-value]

    def zoom() -> InboundConnector:
        from connectors.zoom.inbound import ZoomInbound

        return ZoomInbound(_secret(ps.zoom_secret_token) or "")  # type: ignore[return-value]

    def google() -> InboundConnector:
        from connectors.google.inbound import GoogleCalendarInbound, InMemoryChannelStore

        inner = GoogleCalendarInbound(channel_store if channel_store is not None else InMemoryChannelStore())
        return InboundWithFollowUp(inner, _sync_when_needed(inner, "google"))  # type: ignore[return-value]

    def twilio() -> InboundConnector:
        from connectors.twilio import TwilioSettings, TwilioWebhook

        return TwilioWebhook(TwilioSettings())  # type: ignore[return-value]

    def sendgrid_events() -> InboundConnector:
        from connectors.sendgrid import SendGridEventWebhook, SendGridSettings

        return SendGridEventWebhook(SendGridSettings())  # type: ignore[return-value]

    def sendgrid_parse() -> InboundConnector:
        from connectors.sendgrid import SendGridInboundParse, SendGridSettings

        return SendGridInboundParse(SendGridSettings())  # type: ignore[return-value]

    def slack() -> InboundConnector:
        from connectors.slack import SlackInteractivity, SlackSettings

        return SlackInteractivity(SlackSettings())  # type: ignore[return-value]

    add("calcom", calcom, _secret(ps.calcom_webhook_secret) is not None, "NOSHOW_CALCOM_WEBHOOK_SECRET")
    add("calendly", calendly, _secret(ps.calendly_signing_key) is not None, "NOSHOW_CALENDLY_SIGNING_KEY")
    add("outlook", outlook, _secret(ps.graph_client_state) is not None, "NOSHOW_GRAPH_CLIENT_STATE")
    add("hubspot", hubspot, _secret(ps.hubspot_client_secret) is not None, "NOSHOW_HUBSPOT_CLIENT_SECRET")
    add("zoom", zoom, _secret(ps.zoom_secret_token) is not None, "NOSHOW_ZOOM_SECRET_TOKEN")
    add("google", google, ps.google_channels, "NOSHOW_GOOGLE_CHANNELS=true")
    add("twilio", twilio, bool(os.environ.get("TWILIO_AUTH_TOKEN")), "TWILIO_AUTH_TOKEN")
    add("sendgrid", sendgrid_events, bool(os.environ.get("SENDGRID_EVENT_VERIFICATION_KEY")),
        "SENDGRID_EVENT_VERIFICATION_KEY")
    add("sendgrid_parse", sendgrid_parse,
        bool(os.environ.get("SENDGRID_PARSE_TOKEN") or os.environ.get("SENDGRID_PARSE_BASIC_AUTH")),
        "SENDGRID_PARSE_TOKEN or SENDGRID_PARSE_BASIC_AUTH")
    add("slack", slack, bool(os.environ.get("SLACK_SIGNING_SECRET")), "SLACK_SIGNING_SECRET")
    return routes, checks


def outbound(ps: ProviderSettings, local: MessageChannel, send_log_path: str
             ) -> tuple[dict[Channel, MessageChannel], list[ReviewNotifier], list[ProviderCheck]]:
    """Message channels and reviewer notifiers: the local outbox unless a provider is selected."""
    checks: list[ProviderCheck] = []
    channels: dict[Channel, MessageChannel] = {Channel.sms: local, Channel.whatsapp: local, Channel.email: local}
    notifiers: list[ReviewNotifier] = []
    log = None
    if (ps.sms_provider, ps.email_provider, ps.review_notifier) != ("local", "local", "local"):
        from connectors.twilio.sendlog import SqliteSendLog

        # providers have no idempotency keys: the shared send log makes a retried send return the first receipt
        log = SqliteSendLog(send_log_path)
    if ps.sms_provider == "twilio":
        from connectors.twilio import TwilioChannel, TwilioSettings

        twilio = TwilioChannel(TwilioSettings(), send_log=log)
        channels[Channel.sms] = channels[Channel.whatsapp] = twilio
        checks.append(ProviderCheck("twilio-send", "ok", "SMS and WhatsApp through Twilio"))
    else:
        checks.append(ProviderCheck("twilio-send", "off", "SMS/WhatsApp go to the local outbox"))
    if ps.email_provider == "sendgrid":
        from connectors.sendgrid import SendGridChannel, SendGridSettings

        channels[Channel.email] = SendGridChannel(SendGridSettings(), send_log=log)
        checks.append(ProviderCheck("sendgrid-send", "ok", "email through SendGrid"))
    else:
        checks.append(ProviderCheck("sendgrid-send", "off", "email goes to the local outbox"))
    if ps.review_notifier == "slack":
        from connectors.slack import SlackReviewNotifier, SlackSettings

        notifiers.append(SlackReviewNotifier(SlackSettings(), send_log=log))
        checks.append(ProviderCheck("slack-notify", "ok", "review requests posted to Slack"))
    else:
        checks.append(ProviderCheck("slack-notify", "off", "review requests stay in the local queue"))
    return channels, notifiers, checks


# ---------------------------------------------------------------------------- calendar and CRM write-back


class ProviderConfigError(ValueError):
    """A selected provider is missing a secret or has a malformed setting (names the variables, never values)."""


CALENDAR_CREDENTIAL = {"calcom": "NOSHOW_CALCOM_API_KEY", "calendly": "NOSHOW_CALENDLY_TOKEN",
                       "google": "NOSHOW_GOOGLE_ACCESS_TOKEN", "outlook": "NOSHOW_GRAPH_ACCESS_TOKEN"}
CALENDAR_DEFAULT = {"calcom": "NOSHOW_CALCOM_EVENT_TYPE_ID", "calendly": "NOSHOW_CALENDLY_EVENT_TYPE",
                    "google": "NOSHOW_GOOGLE_CALENDAR_ID", "outlook": "NOSHOW_GRAPH_USER"}
PROVIDER_TITLE = {"calcom": "Cal.com", "calendly": "Calendly", "google": "Google Calendar", "outlook": "Outlook",
                  "hubspot": "HubSpot"}


def _url_problem(value: str, env: str) -> list[str]:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return [f"{env} must be an absolute http(s) URL"]
    return []


def _calendar_settings(ps: ProviderSettings) -> tuple[SecretStr | None, str, str, str | None]:
    """(credential, base URL, base URL variable, default calendar) of the selected calendar provider."""
    p = ps.calendar_provider
    if p == "calcom":
        return ps.calcom_api_key, ps.calcom_base_url, "NOSHOW_CALCOM_BASE_URL", ps.calcom_event_type_id
    if p == "calendly":
        return ps.calendly_token, ps.calendly_base_url, "NOSHOW_CALENDLY_BASE_URL", ps.calendly_event_type
    if p == "google":
        return ps.google_access_token, ps.google_base_url, "NOSHOW_GOOGLE_BASE_URL", ps.google_calendar_id
    return ps.graph_access_token, ps.graph_base_url, "NOSHOW_GRAPH_BASE_URL", ps.graph_user


def calendar_problems(ps: ProviderSettings) -> list[str]:
    """What keeps the selected calendar provider from working; format only, no network."""
    p = ps.calendar_provider
    if p == "local":
        return []
    credential, base_url, url_env, default = _calendar_settings(ps)
    problems = [] if _secret(credential) else [f"NOSHOW_CALENDAR_PROVIDER={p} needs {CALENDAR_CREDENTIAL[p]}"]
    problems += _url_problem(base_url, url_env)
    default = (default or "").strip()
    if default:
        if p == "calcom" and not default.isdigit():
            problems.append("NOSHOW_CALCOM_EVENT_TYPE_ID must be the numeric event type id")
        if p == "calendly" and not (default.startswith("https://") and "/event_types/" in default):
            problems.append("NOSHOW_CALENDLY_EVENT_TYPE must be an event type URI (https://api.calendly.com/"
                            "event_types/...)")
        if p in ("google", "outlook") and len(default) > 200:
            problems.append(f"{CALENDAR_DEFAULT[p]} is too long")
    return problems


def crm_problems(ps: ProviderSettings) -> list[str]:
    if ps.crm_provider == "local":
        return []
    problems = [] if _secret(ps.hubspot_access_token) else ["NOSHOW_CRM_PROVIDER=hubspot needs "
                                                            "NOSHOW_HUBSPOT_ACCESS_TOKEN"]
    problems += _url_problem(ps.hubspot_base_url, "NOSHOW_HUBSPOT_BASE_URL")
    if ps.hubspot_owner_id and not ps.hubspot_owner_id.strip().isdigit():
        problems.append("NOSHOW_HUBSPOT_OWNER_ID must be a numeric HubSpot owner id")
    return problems


def writeback_checks(ps: ProviderSettings) -> list[ProviderCheck]:
    """ok / off / error for the calendar and the CRM the engine writes to. Builds nothing, calls nothing."""
    checks: list[ProviderCheck] = []
    p = ps.calendar_provider
    problems = calendar_problems(ps)
    if p == "local":
        checks.append(ProviderCheck("calendar", "off", "local calendar (NOSHOW_CALENDAR_PROVIDER=local)"))
    elif problems:
        checks.append(ProviderCheck("calendar", "error", "; ".join(problems)))
    else:
        default = _calendar_settings(ps)[3]
        note = (f"other sources' appointments go to {CALENDAR_DEFAULT[p]}" if default else
                f"only {PROVIDER_TITLE[p]} appointments can be rebooked (set {CALENDAR_DEFAULT[p]} for the others)")
        checks.append(ProviderCheck("calendar", "ok", f"availability and bookings on {PROVIDER_TITLE[p]}, holds "
                                                      f"local; {note}"))
    problems = crm_problems(ps)
    if ps.crm_provider == "local":
        checks.append(ProviderCheck("crm", "off", "local CRM (NOSHOW_CRM_PROVIDER=local)"))
    elif problems:
        checks.append(ProviderCheck("crm", "error", "; ".join(problems)))
    else:
        checks.append(ProviderCheck("crm", "ok", "outcomes, notes and owner tasks written to HubSpot under the CRM "
                                                 "write rules; local copy kept"))
    return checks


def _calendar_adapter(ps: ProviderSettings, contact_lookup: Callable[[str], Any]) -> Any:
    token = _secret(_calendar_settings(ps)[0]) or ""
    if ps.calendar_provider == "calcom":
        from connectors.calcom.calendar import CalcomCalendar
        from connectors.calcom.client import CalcomClient

        return CalcomCalendar(CalcomClient(token, base_url=ps.calcom_base_url), contact_lookup,
                              default_event_type=ps.calcom_event_type_id, time_zone=ps.calcom_time_zone)
    if ps.calendar_provider == "calendly":
        from connectors.calendly.calendar import CalendlyCalendar
        from connectors.calendly.client import CalendlyClient

        return CalendlyCalendar(CalendlyClient(token, base_url=ps.calendly_base_url), contact_lookup,
                                default_event_type=ps.calendly_event_type)
    if ps.calendar_provider == "google":
        from connectors.google.calendar import GoogleCalendar
        from connectors.google.client import GoogleCalendarClient

        return GoogleCalendar(GoogleCalendarClient(token, base_url=ps.google_base_url), contact_lookup,
                              default_calendar=ps.google_calendar_id, send_updates=ps.google_send_updates)
    from connectors.outlook.calendar import OutlookCalendar
    from connectors.outlook.client import OutlookClient

    return OutlookCalendar(OutlookClient(token, base_url=ps.graph_base_url), contact_lookup,
                           default_user=ps.graph_user)


def writeback(ps: ProviderSettings, calendar: Any, crm: Any, rules: list[CrmRules]) -> tuple[Any, Any]:
    """The engine's calendar and CRM: the local ones (`calendar`, `crm`) unless providers are selected, in which
    case MirroredCalendar / WritebackCrm over the provider adapters, keeping the local ones for holds, contacts
    and the audit copy. Raises ProviderConfigError naming what is missing."""
    problems = calendar_problems(ps) + crm_problems(ps)
    if problems:
        raise ProviderConfigError("; ".join(problems))
    if ps.calendar_provider == "local" and ps.crm_provider == "local":
        return calendar, crm
    from connectors.contract import NoShowMarker
    from connectors.writeback import MirroredCalendar, WritebackCrm

    engine_calendar = calendar
    marker = None
    if ps.calendar_provider != "local":
        adapter = _calendar_adapter(ps, crm.contact)
        engine_calendar = MirroredCalendar(adapter, calendar, ps.calendar_provider)
        marker = adapter if isinstance(adapter, NoShowMarker) else None
    remote = None
    if ps.crm_provider == "hubspot":
        from connectors.hubspot.client import HubSpotClient
        from connectors.hubspot.crm import HubSpotContactResolver, HubSpotCrm, union_rules

        client = HubSpotClient(_secret(ps.hubspot_access_token) or "", base_url=ps.hubspot_base_url)
        resolver = HubSpotContactResolver(client, crm.contact, db=crm.db, create=ps.hubspot_create_contacts)
        remote = HubSpotCrm(client, union_rules(rules), contact_resolver=resolver,
                            default_owner=(ps.hubspot_owner_id or "").strip() or None)
    engine_crm = WritebackCrm(crm, remote, marker, marker_source=ps.calendar_provider if marker else None)
    return engine_calendar, engine_crm
