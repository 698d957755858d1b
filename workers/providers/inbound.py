"""The `/webhooks/{provider}` routes, built from settings: `events` (Standard Webhooks) always, each provider
when its secret is configured. Every connector authenticates the raw bytes before anything parses them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog

from connectors.calcom.inbound import CalcomInbound
from connectors.calendly.inbound import CalendlyInbound
from connectors.contract import InboundConnector, RawRequest, WebhookResult
from connectors.google.inbound import ChannelStore, GoogleCalendarInbound, InMemoryChannelStore
from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.crm import HubSpotMeetings
from connectors.hubspot.inbound import HubSpotInbound
from connectors.inbound import InboundBase
from connectors.outlook.inbound import OutlookInbound
from connectors.sendgrid.events import SendGridEventWebhook
from connectors.sendgrid.parse import SendGridInboundParse
from connectors.settings import secret
from connectors.slack.interactivity import SlackInteractivity
from connectors.standard_webhooks import StandardWebhooksInbound
from connectors.twilio.webhook import TwilioWebhook
from connectors.zoho.inbound import ZohoInbound
from connectors.zoom.inbound import ZoomInbound
from workers.provider_settings import HubSpotSettings
from workers.providers.acuity import acuity_details, acuity_inbound
from workers.providers.airtable import airtable_inbound
from workers.providers.checks import ProviderCheck
from workers.providers.fhir import fhir_inbound
from workers.providers.freshdesk import freshdesk_inbound, freshdesk_people
from workers.providers.gmail import gmail_push, with_replies
from workers.providers.jobber import jobber_inbound
from workers.providers.mailchimp import mailchimp_inbound
from workers.providers.mindbody import mindbody_inbound, mindbody_people
from workers.providers.quickbooks import quickbooks_inbound
from workers.providers.sales_crms import (
    activecampaign_inbound,
    gohighlevel_inbound,
    gohighlevel_people,
    pipedrive_inbound,
    pipedrive_people,
)
from workers.providers.sheets import sheets_inbound
from workers.providers.square import square_inbound, square_people
from workers.providers.zendesk import zendesk_inbound, zendesk_people
from workers.settings import Settings

log = structlog.get_logger(__name__)


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


def unwrap(connector: object) -> object:
    """The connector itself, also when it is wrapped with a follow-up."""
    return connector.inner if isinstance(connector, InboundWithFollowUp) else connector


def _sync_when_needed(inner: Any, source: str) -> Callable[[RawRequest, WebhookResult], WebhookResult]:
    def after(request: RawRequest, result: WebhookResult) -> WebhookResult:
        # a connector that names its own reconcile source (per Google channel) is left to do so
        if not result.sync_sources and inner.sync_needed(request):
            result.sync_sources.append(source)
        return result

    return after


def _hubspot_details(hubspot: HubSpotSettings) -> Callable[[RawRequest, WebhookResult], WebhookResult]:
    meetings = HubSpotMeetings(HubSpotClient(secret(hubspot.access_token) or "", base_url=hubspot.base_url))

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


def inbound_connectors(settings: Settings, channel_store: ChannelStore | None = None,
                       ) -> tuple[dict[str, InboundConnector], list[ProviderCheck]]:
    """The routes by name, and a check per connector. `channel_store`: the Google push channels this deployment
    opened (in memory when not given)."""
    s = settings
    checks: list[ProviderCheck] = []
    routes: dict[str, InboundConnector] = {}

    def add(name: str, build: Callable[[], object], configured: bool, what: str) -> None:
        if not configured:
            checks.append(ProviderCheck(name, "off", f"not configured ({what})"))
            return
        try:
            routes[name] = build()  # type: ignore[assignment]
            checks.append(ProviderCheck(name, "ok", f"webhook at /webhooks/{name}"))
        except Exception as exc:  # a bad secret format must say which provider and why, not crash start-up
            checks.append(ProviderCheck(name, "error", f"{type(exc).__name__}: {exc}"))

    def outlook() -> object:
        inner = OutlookInbound(s.graph.client_states)
        return InboundWithFollowUp(inner, _sync_when_needed(inner, "outlook"))

    def hubspot() -> object:
        inner = HubSpotInbound(secret(s.hubspot.client_secret) or "")
        if secret(s.hubspot.access_token) is None:
            return inner
        return InboundWithFollowUp(inner, _hubspot_details(s.hubspot))

    def google() -> object:
        inner = GoogleCalendarInbound(channel_store if channel_store is not None else InMemoryChannelStore())
        return InboundWithFollowUp(inner, _sync_when_needed(inner, "google"))

    secrets = s.auth.webhook_secrets
    add("events", lambda: StandardWebhooksInbound(secrets), bool(secrets), "NOSHOW_WEBHOOK_SECRET")
    add("calcom", lambda: CalcomInbound(secret(s.calcom.webhook_secret) or ""),
        secret(s.calcom.webhook_secret) is not None, "NOSHOW_CALCOM_WEBHOOK_SECRET")
    add("calendly", lambda: CalendlyInbound(secret(s.calendly.signing_key) or ""),
        secret(s.calendly.signing_key) is not None, "NOSHOW_CALENDLY_SIGNING_KEY")
    add("outlook", outlook, secret(s.graph.client_state) is not None, "NOSHOW_GRAPH_CLIENT_STATE")
    add("hubspot", hubspot, secret(s.hubspot.client_secret) is not None, "NOSHOW_HUBSPOT_CLIENT_SECRET")
    add("zoom", lambda: ZoomInbound(secret(s.zoom.secret_token) or ""), secret(s.zoom.secret_token) is not None,
        "NOSHOW_ZOOM_SECRET_TOKEN")
    add("google", google, s.google.channels, "NOSHOW_GOOGLE_CHANNELS=true")
    add("twilio", lambda: TwilioWebhook(s.twilio), secret(s.twilio.auth_token) is not None, "TWILIO_AUTH_TOKEN")
    add("sendgrid", lambda: SendGridEventWebhook(s.sendgrid), secret(s.sendgrid.event_verification_key) is not None,
        "SENDGRID_EVENT_VERIFICATION_KEY")
    add("sendgrid_parse", lambda: SendGridInboundParse(s.sendgrid),
        bool(secret(s.sendgrid.parse_token) or secret(s.sendgrid.parse_basic_auth)),
        "SENDGRID_PARSE_TOKEN or SENDGRID_PARSE_BASIC_AUTH")
    add("slack", lambda: SlackInteractivity(s.slack), secret(s.slack.signing_secret) is not None,
        "SLACK_SIGNING_SECRET")
    add("zoho", lambda: ZohoInbound(secret(s.zoho.channel_token) or "", s.zoho.channel_id),
        secret(s.zoho.channel_token) is not None, "NOSHOW_ZOHO_CHANNEL_TOKEN")
    def with_people(inner: InboundBase, after: Callable[[RawRequest, WebhookResult], WebhookResult] | None
                    ) -> object:
        return InboundWithFollowUp(inner, after) if after is not None else inner

    add("pipedrive", lambda: with_people(pipedrive_inbound(s), pipedrive_people(s)),
        secret(s.pipedrive.webhook_password) is not None,
        "NOSHOW_PIPEDRIVE_WEBHOOK_USER + NOSHOW_PIPEDRIVE_WEBHOOK_PASSWORD")
    add("activecampaign", lambda: activecampaign_inbound(s), secret(s.activecampaign.webhook_token) is not None,
        "NOSHOW_ACTIVECAMPAIGN_WEBHOOK_TOKEN")
    add("gohighlevel", lambda: with_people(gohighlevel_inbound(s), gohighlevel_people(s)),
        secret(s.gohighlevel.webhook_public_key) is not None,
        "NOSHOW_GOHIGHLEVEL_WEBHOOK_PUBLIC_KEY")
    add("zendesk", lambda: with_people(zendesk_inbound(s), zendesk_people(s)),
        secret(s.zendesk.webhook_secret) is not None, "NOSHOW_ZENDESK_WEBHOOK_SECRET")
    add("freshdesk", lambda: with_people(freshdesk_inbound(s), freshdesk_people(s)), s.freshdesk.webhook_open,
        "NOSHOW_FRESHDESK_WEBHOOK_TOKEN (or NOSHOW_FRESHDESK_WEBHOOK_USER + NOSHOW_FRESHDESK_WEBHOOK_PASSWORD)")
    add("mindbody", lambda: with_people(mindbody_inbound(s), mindbody_people(s)),
        secret(s.mindbody.signature_key) is not None, "NOSHOW_MINDBODY_SIGNATURE_KEY")
    add("acuity", lambda: InboundWithFollowUp(acuity_inbound(s), acuity_details(s)), s.acuity.configured,
        "NOSHOW_ACUITY_USER_ID + NOSHOW_ACUITY_API_KEY")
    add("square", lambda: with_people(square_inbound(s), square_people(s)),
        secret(s.square.signature_key) is not None, "NOSHOW_SQUARE_SIGNATURE_KEY")
    add("fhir", lambda: fhir_inbound(s), secret(s.fhir.subscription_token) is not None,
        "NOSHOW_FHIR_SUBSCRIPTION_TOKEN")
    add("mailchimp", lambda: mailchimp_inbound(s), secret(s.mailchimp.webhook_secret) is not None,
        "NOSHOW_MAILCHIMP_WEBHOOK_SECRET")
    add("quickbooks", lambda: quickbooks_inbound(s), secret(s.quickbooks.verifier_token) is not None,
        "NOSHOW_QUICKBOOKS_VERIFIER_TOKEN")
    add("jobber", lambda: jobber_inbound(s), secret(s.jobber.client_secret) is not None, "NOSHOW_JOBBER_CLIENT_SECRET")
    add("sheets", lambda: sheets_inbound(s), secret(s.sheets.channel_token) is not None, "NOSHOW_SHEETS_CHANNEL_TOKEN")
    add("airtable", lambda: airtable_inbound(s), secret(s.airtable.mac_secret) is not None,
        "NOSHOW_AIRTABLE_MAC_SECRET (+ NOSHOW_AIRTABLE_BASE_ID, NOSHOW_AIRTABLE_WEBHOOK_ID)")
    def gmail() -> object:
        inner, replies = gmail_push(s)
        return InboundWithFollowUp(inner, with_replies(inner, replies))

    add("gmail", gmail, bool(s.gmail.push_audience and s.gmail.push_service_account),
        "NOSHOW_GMAIL_PUSH_AUDIENCE + NOSHOW_GMAIL_PUSH_SERVICE_ACCOUNT")
    return routes, checks
