"""Which providers are connected: inbound webhook connectors, message channels and reviewer notifiers, built
from settings (secrets come from the environment). Anything not configured stays on the local default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.contract import InboundConnector, MessageChannel, ReviewNotifier
from connectors.standard_webhooks import StandardWebhooksInbound
from domain.models import Channel


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


@dataclass
class ProviderCheck:
    name: str
    status: Literal["ok", "off", "error"]
    detail: str


def _secret(value: SecretStr | None) -> str | None:
    raw = value.get_secret_value() if value is not None else ""
    return raw or None


def inbound_connectors(ps: ProviderSettings, secrets: list[str]
                       ) -> tuple[dict[str, InboundConnector], list[ProviderCheck]]:
    """The `/webhooks/{provider}` routes: `events` (Standard Webhooks) always, each provider when configured."""
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
        return OutlookInbound(states)  # type: ignore[return-value]

    def hubspot() -> InboundConnector:
        from connectors.hubspot.inbound import HubSpotInbound

        return HubSpotInbound(_secret(ps.hubspot_client_secret) or "")  # type: ignore[return-value]

    def zoom() -> InboundConnector:
        from connectors.zoom.inbound import ZoomInbound

        return ZoomInbound(_secret(ps.zoom_secret_token) or "")  # type: ignore[return-value]

    def google() -> InboundConnector:
        from connectors.google.inbound import GoogleCalendarInbound, InMemoryChannelStore

        return GoogleCalendarInbound(InMemoryChannelStore())  # type: ignore[return-value]

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
