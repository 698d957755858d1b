"""Every connector's settings section, gathered for the engine's one `Settings` (`workers/settings.py`): a new
connector declares its section beside its code and adds one line here."""

from __future__ import annotations

from pydantic import Field

from connectors.app_webhook.settings import AppWebhookSettings
from connectors.sendgrid.settings import SendGridSettings
from connectors.settings import EnvSection
from connectors.slack.settings import SlackSettings
from connectors.twilio.settings import TwilioSettings
from connectors.webpush.settings import WebPushSettings
from workers.provider_settings import (
    ActiveCampaignSettings,
    CalcomSettings,
    CalendlySettings,
    GoHighLevelSettings,
    GoogleSettings,
    GraphSettings,
    HubSpotSettings,
    PipedriveSettings,
    SalesforceSettings,
    ZohoSettings,
    ZoomSettings,
)


class ConnectorSections(EnvSection):
    """Appointment sources, calendars, CRMs and channels, one section each."""

    calcom: CalcomSettings = Field(default_factory=CalcomSettings)
    calendly: CalendlySettings = Field(default_factory=CalendlySettings)
    google: GoogleSettings = Field(default_factory=GoogleSettings)
    graph: GraphSettings = Field(default_factory=GraphSettings)
    hubspot: HubSpotSettings = Field(default_factory=HubSpotSettings)
    zoom: ZoomSettings = Field(default_factory=ZoomSettings)
    salesforce: SalesforceSettings = Field(default_factory=SalesforceSettings)
    zoho: ZohoSettings = Field(default_factory=ZohoSettings)
    pipedrive: PipedriveSettings = Field(default_factory=PipedriveSettings)
    activecampaign: ActiveCampaignSettings = Field(default_factory=ActiveCampaignSettings)
    gohighlevel: GoHighLevelSettings = Field(default_factory=GoHighLevelSettings)
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    sendgrid: SendGridSettings = Field(default_factory=SendGridSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    webpush: WebPushSettings = Field(default_factory=WebPushSettings)
    app_webhook: AppWebhookSettings = Field(default_factory=AppWebhookSettings)
