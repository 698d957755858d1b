"""The settings sections of the appointment sources and CRMs the engine reads and writes (Cal.com, Calendly,
Google Calendar, Microsoft Graph, HubSpot, Zoom); `workers/settings.py` gathers them into the one `Settings`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
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
