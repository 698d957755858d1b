"""The settings sections of the appointment sources and CRMs the engine reads and writes (Cal.com, Calendly,
Google Calendar, Microsoft Graph, HubSpot, Zoom); `workers/settings.py` gathers them into the one `Settings`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection, secret


class CalcomSettings(EnvSection):
    """NOSHOW_CALCOM_API_KEY (polling, booking), NOSHOW_CALCOM_BASE_URL, NOSHOW_CALCOM_WEBHOOK_SECRET,
    NOSHOW_CALCOM_EVENT_TYPE_ID (books appointments that came from other sources), NOSHOW_CALCOM_TIME_ZONE,
    NOSHOW_CALCOM_BOOKING_FIELDS (JSON answers to required booking questions)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_CALCOM_")

    api_key: SecretStr | None = None
    base_url: str = "https://api.cal.com/v2"
    webhook_secret: SecretStr | None = None
    event_type_id: str | None = None
    time_zone: str = "UTC"
    # answers to the event type's required booking questions, JSON by slug: {"company": "Rebooked"}
    booking_fields: dict[str, str] = Field(default_factory=dict)


class CalendlySettings(EnvSection):
    """NOSHOW_CALENDLY_TOKEN, NOSHOW_CALENDLY_BASE_URL, NOSHOW_CALENDLY_SIGNING_KEY, NOSHOW_CALENDLY_USER_URI or
    NOSHOW_CALENDLY_ORGANIZATION_URI (whose events are polled), NOSHOW_CALENDLY_EVENT_TYPE (event type URI for
    appointments from other sources)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_CALENDLY_")

    token: SecretStr | None = None
    base_url: str = "https://api.calendly.com"
    signing_key: SecretStr | None = None
    user_uri: str | None = None
    organization_uri: str | None = None
    event_type: str | None = None


class GoogleSettings(EnvSection):
    """NOSHOW_GOOGLE_ACCESS_TOKEN or NOSHOW_GOOGLE_CLIENT_ID + _CLIENT_SECRET + _REFRESH_TOKEN (+ _TOKEN_URL),
    NOSHOW_GOOGLE_BASE_URL, NOSHOW_GOOGLE_CALENDAR_ID, NOSHOW_GOOGLE_SEND_UPDATES,
    NOSHOW_GOOGLE_CHANNELS (open push channels and the /webhooks/google route), NOSHOW_GOOGLE_CHANNEL_TTL_HOURS
    (asked for; Google may grant less)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_GOOGLE_")

    access_token: SecretStr | None = None  # static: expires within the hour; prefer the refresh token below
    client_id: str | None = None  # OAuth client: refreshed tokens from NOSHOW_GOOGLE_REFRESH_TOKEN
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    token_url: str = "https://oauth2.googleapis.com/token"
    base_url: str = "https://www.googleapis.com/calendar/v3"
    calendar_id: str | None = None
    send_updates: Literal["all", "externalOnly", "none"] = "all"
    channels: bool = False
    channel_ttl_hours: float = Field(default=7 * 24, gt=1)


class GraphSettings(EnvSection):
    """Outlook through Microsoft Graph: NOSHOW_GRAPH_ACCESS_TOKEN or NOSHOW_GRAPH_TENANT + _CLIENT_ID +
    _CLIENT_SECRET (+ _REFRESH_TOKEN for delegated access, _TOKEN_URL), NOSHOW_GRAPH_BASE_URL, NOSHOW_GRAPH_USER (user
    id or UPN whose calendar is used), NOSHOW_GRAPH_CLIENT_STATE (comma-separated; the first is set on the
    subscriptions this deployment creates)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_GRAPH_")

    access_token: SecretStr | None = None  # static; prefer client id + secret (+ refresh token for delegated)
    tenant: str = "common"
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None  # delegated access; without it, client credentials (application)
    token_url: str | None = None  # default https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token
    base_url: str = "https://graph.microsoft.com/v1.0"
    user: str | None = None
    client_state: SecretStr | None = None

    @property
    def client_states(self) -> list[str]:
        return [s.strip() for s in (secret(self.client_state) or "").split(",") if s.strip()]


class HubSpotSettings(EnvSection):
    """NOSHOW_HUBSPOT_ACCESS_TOKEN, NOSHOW_HUBSPOT_BASE_URL, NOSHOW_HUBSPOT_CLIENT_SECRET (webhook signatures),
    NOSHOW_HUBSPOT_OWNER_ID (owns tasks whose owner is not a HubSpot owner), NOSHOW_HUBSPOT_CREATE_CONTACTS."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_HUBSPOT_")

    access_token: SecretStr | None = None
    base_url: str = "https://api.hubapi.com"
    client_secret: SecretStr | None = None
    owner_id: str | None = None
    create_contacts: bool = True


class ZoomSettings(EnvSection):
    """NOSHOW_ZOOM_SECRET_TOKEN: the webhook secret token of the Zoom app."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_ZOOM_")

    secret_token: SecretStr | None = None


SalesforceObject = Literal["ServiceAppointment", "Event"]
SALESFORCE_OBJECTS: tuple[SalesforceObject, ...] = ("ServiceAppointment", "Event")


class SalesforceSettings(EnvSection):
    """Salesforce through the OAuth 2.0 JWT bearer flow: NOSHOW_SALESFORCE_CLIENT_ID (the connected app's consumer
    key), _USERNAME (the integration user), _PRIVATE_KEY (PEM of the key whose certificate the app holds),
    _LOGIN_URL (https://login.salesforce.com, https://test.salesforce.com for a sandbox, or My Domain), _AUDIENCE,
    _INSTANCE_URL (default: the token response's), _API_VERSION, _OBJECTS (polled: ServiceAppointment, Event),
    _NO_SHOW_STATUSES / _ATTENDED_STATUSES / _CANCELLED_STATUSES (ServiceAppointment), _EVENT_OUTCOME_FIELD,
    _FIELDS (JSON: canonical field -> custom field API name), _OWNER_ID (owns tasks whose owner is not a user)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_SALESFORCE_")

    client_id: str | None = None
    username: str | None = None
    private_key: SecretStr | None = None
    login_url: str = "https://login.salesforce.com"
    audience: str | None = None  # the JWT `aud`; default the login URL (a My Domain login still names login/test)
    instance_url: str | None = None
    api_version: str = Field(default="62.0", pattern=r"^v?\d{2,3}\.\d$")
    objects: list[SalesforceObject] = Field(default_factory=lambda: list(SALESFORCE_OBJECTS))
    no_show_statuses: list[str] = Field(default_factory=lambda: ["Cannot Complete"])
    attended_statuses: list[str] = Field(default_factory=lambda: ["Completed"])
    cancelled_statuses: list[str] = Field(default_factory=lambda: ["Canceled"])
    event_outcome_field: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
    fields: dict[str, str] = Field(default_factory=dict)
    owner_id: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.client_id or self.username or secret(self.private_key))


ZOHO_ACCOUNTS = {"us": "https://accounts.zoho.com", "eu": "https://accounts.zoho.eu",
                 "in": "https://accounts.zoho.in", "au": "https://accounts.zoho.com.au",
                 "cn": "https://accounts.zoho.com.cn", "jp": "https://accounts.zoho.jp",
                 "ca": "https://accounts.zohocloud.ca", "sa": "https://accounts.zoho.sa"}
ZOHO_API = {"us": "https://www.zohoapis.com", "eu": "https://www.zohoapis.eu", "in": "https://www.zohoapis.in",
            "au": "https://www.zohoapis.com.au", "cn": "https://www.zohoapis.com.cn", "jp": "https://www.zohoapis.jp",
            "ca": "https://www.zohoapis.ca", "sa": "https://www.zohoapis.sa"}


class ZohoSettings(EnvSection):
    """Zoho CRM: NOSHOW_ZOHO_CLIENT_ID + _CLIENT_SECRET + _REFRESH_TOKEN (refreshed at the data centre's accounts
    server), NOSHOW_ZOHO_DATA_CENTRE (us, eu, in, au, cn, jp, ca, sa) or _ACCOUNTS_URL (the `accounts-server` the
    consent redirect named), _API_DOMAIN (default: the token response's `api_domain`), _API_VERSION,
    _CHANNEL_TOKEN (the watch channel's token: opens /webhooks/zoho), _CHANNEL_ID, _OUTCOME_FIELD (the Events
    field holding an outcome), _FIELDS (JSON: canonical field -> field API name), _OWNER_ID."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_ZOHO_")

    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    data_centre: Literal["us", "eu", "in", "au", "cn", "jp", "ca", "sa"] = "us"
    accounts_url: str | None = None
    api_domain: str | None = None
    api_version: str = Field(default="v7", pattern=r"^v\d{1,2}$")
    channel_token: SecretStr | None = None  # at most 50 characters (the watch API's limit)
    channel_id: int = Field(default=1_000_000_068_001, gt=0)
    outcome_field: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
    fields: dict[str, str] = Field(default_factory=dict)
    owner_id: str | None = None

    @property
    def token_url(self) -> str:
        return f"{(self.accounts_url or ZOHO_ACCOUNTS[self.data_centre]).rstrip('/')}/oauth/v2/token"

    @property
    def default_api_domain(self) -> str:
        return ZOHO_API[self.data_centre]

    @property
    def configured(self) -> bool:
        return bool(self.client_id or secret(self.refresh_token))


class PipedriveSettings(EnvSection):
    """Pipedrive: NOSHOW_PIPEDRIVE_API_TOKEN (the `x-api-token` of the integration user) or _CLIENT_ID +
    _CLIENT_SECRET + _REFRESH_TOKEN (a Marketplace app; refreshed at _TOKEN_URL, `api_domain` from its answer),
    _API_DOMAIN (https://<company>.pipedrive.com; default the token answer's), _WEBHOOK_USER + _WEBHOOK_PASSWORD
    (the HTTP Basic pair set on the webhook: opens /webhooks/pipedrive), _ACTIVITY_TYPES (which activity types are
    appointments, default meeting,call), _NO_SHOW_OUTCOMES (outcome ids that mean a no-show), _FIELDS (JSON:
    canonical field -> custom field key), _OWNER_ID (owns follow-ups whose owner is not a user), _TASK_TYPE."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_PIPEDRIVE_")

    api_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    token_url: str = "https://oauth.pipedrive.com/oauth/token"
    api_domain: str | None = None
    webhook_user: str | None = None
    webhook_password: SecretStr | None = None
    activity_types: list[str] = Field(default_factory=lambda: ["meeting", "call"])
    no_show_outcomes: list[str] = Field(default_factory=list)
    fields: dict[str, str] = Field(default_factory=dict)
    owner_id: str | None = None
    task_type: str = Field(default="task", pattern=r"^[a-z0-9_]{1,40}$")

    @field_validator("no_show_outcomes", mode="before")
    @classmethod
    def _outcome_ids_as_text(cls, value: object) -> object:
        # outcome ids are numbers in Pipedrive's answers; `[3]` and `["3"]` mean the same
        return [str(v) for v in value] if isinstance(value, list) else value

    @property
    def configured(self) -> bool:
        return bool(secret(self.api_token) or secret(self.refresh_token))


class ActiveCampaignSettings(EnvSection):
    """ActiveCampaign: NOSHOW_ACTIVECAMPAIGN_API_URL (the account's API URL, Settings > Developer) +
    _API_TOKEN, _WEBHOOK_TOKEN (the secret in the webhook URL, at least 16 characters: opens
    /webhooks/activecampaign), _MISSED_STAGES (deal stage titles or ids that mean a no-show, default Missed),
    _FIELDS (JSON: canonical field -> contact custom field id), _TASK_TYPE (the deal task type id for owner
    tasks), _OWNER_ID (the user assigned tasks whose owner is not a user)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_ACTIVECAMPAIGN_")

    api_url: str | None = None
    api_token: SecretStr | None = None
    webhook_token: SecretStr | None = None
    missed_stages: list[str] = Field(default_factory=lambda: ["Missed"])
    fields: dict[str, str] = Field(default_factory=dict)
    task_type: str = Field(default="1", pattern=r"^[0-9]{1,10}$")
    owner_id: str | None = None


class GoHighLevelSettings(EnvSection):
    """GoHighLevel (LeadConnector): NOSHOW_GOHIGHLEVEL_WEBHOOK_PUBLIC_KEY (the Marketplace app's Ed25519 webhook
    key: opens /webhooks/gohighlevel), _ACCESS_TOKEN (a Private Integration token or a location token, Bearer),
    _LOCATION_ID, _BASE_URL, _CALENDAR_ID (books appointments that came from other sources; the calendar the
    reconcile poll lists), _GROUP_ID (a calendar group polled instead of the one calendar), _TIME_ZONE (free
    slots), _FIELDS (JSON: canonical field -> contact custom field id), _USER_ID (writes notes, owns tasks),
    _DEMO_SIGNING_KEY (demo only: the private half of a test key pair whose public half is _WEBHOOK_PUBLIC_KEY, so
    `noshow demo --source gohighlevel` can sign as GoHighLevel would; the stack never reads it)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_GOHIGHLEVEL_")

    webhook_public_key: SecretStr | None = None
    demo_signing_key: SecretStr | None = None
    access_token: SecretStr | None = None
    location_id: str | None = None
    base_url: str = "https://services.leadconnectorhq.com"
    calendar_id: str | None = None
    group_id: str | None = None
    time_zone: str = "UTC"
    fields: dict[str, str] = Field(default_factory=dict)
    user_id: str | None = None
