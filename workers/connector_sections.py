"""Every connector's settings section, gathered for the engine's one `Settings` (`workers/settings.py`): a new
connector declares its section beside its code and adds one line here."""

from __future__ import annotations

from pydantic import Field

from connectors.acuity.settings import AcuitySettings
from connectors.airtable.settings import AirtableSettings
from connectors.app_webhook.settings import AppWebhookSettings
from connectors.fhir.settings import FhirSettings
from connectors.freshdesk.settings import FreshdeskSettings
from connectors.gmail.settings import GmailSettings
from connectors.jobber.settings import JobberSettings
from connectors.mailchimp.settings import MailchimpSettings
from connectors.mindbody.settings import MindbodySettings
from connectors.quickbooks.settings import QuickBooksSettings
from connectors.sendgrid.settings import SendGridSettings
from connectors.servicetitan.settings import ServiceTitanSettings
from connectors.settings import EnvSection
from connectors.sheets.settings import SheetsSettings
from connectors.slack.settings import SlackSettings
from connectors.square.settings import SquareSettings
from connectors.twilio.settings import TwilioSettings
from connectors.webpush.settings import WebPushSettings
from connectors.zendesk.settings import ZendeskSettings
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
    mindbody: MindbodySettings = Field(default_factory=MindbodySettings)
    acuity: AcuitySettings = Field(default_factory=AcuitySettings)
    square: SquareSettings = Field(default_factory=SquareSettings)
    fhir: FhirSettings = Field(default_factory=FhirSettings)
    servicetitan: ServiceTitanSettings = Field(default_factory=ServiceTitanSettings)
    jobber: JobberSettings = Field(default_factory=JobberSettings)
    sheets: SheetsSettings = Field(default_factory=SheetsSettings)
    airtable: AirtableSettings = Field(default_factory=AirtableSettings)
    gmail: GmailSettings = Field(default_factory=GmailSettings)
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    sendgrid: SendGridSettings = Field(default_factory=SendGridSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    zendesk: ZendeskSettings = Field(default_factory=ZendeskSettings)
    freshdesk: FreshdeskSettings = Field(default_factory=FreshdeskSettings)
    mailchimp: MailchimpSettings = Field(default_factory=MailchimpSettings)
    quickbooks: QuickBooksSettings = Field(default_factory=QuickBooksSettings)
    webpush: WebPushSettings = Field(default_factory=WebPushSettings)
    app_webhook: AppWebhookSettings = Field(default_factory=AppWebhookSettings)
