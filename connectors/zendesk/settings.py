"""The Zendesk connector's settings: nothing heavy is imported here, so reading the configuration stays cheap."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection, secret


class ZendeskSettings(EnvSection):
    """Zendesk: NOSHOW_ZENDESK_SUBDOMAIN (https://<subdomain>.zendesk.com) or _BASE_URL, NOSHOW_ZENDESK_EMAIL +
    _API_TOKEN (Basic `{email}/token:{api_token}`) or _OAUTH_TOKEN (Bearer), _WEBHOOK_SECRET (the webhook's
    signing secret: opens /webhooks/zendesk), _TOLERANCE_SECONDS (the signed timestamp's window, default 300),
    _STATUS_FIELD_ID (the "appointment status" ticket field), _STATUSES (JSON: field value -> no_show, cancelled,
    rescheduled, attended or reschedule_requested; merged over the defaults), _APPOINTMENT_FIELD_ID (a ticket
    field holding the appointment's own id; default the ticket id), _START_FIELD_ID (a ticket field holding the
    appointment's time), _FIELDS (JSON: canonical field -> ticket field id written back), _FOLLOW_UP (note or
    ticket: how owner tasks are written), _OWNER_ID (the agent assigned follow-up tickets)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_ZENDESK_")

    subdomain: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9\-]{0,62}$")
    base_url: str | None = None
    email: str | None = None
    api_token: SecretStr | None = None
    oauth_token: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    tolerance_seconds: float = Field(default=300.0, gt=0, le=3600)
    status_field_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    statuses: dict[str, str] = Field(default_factory=dict)
    appointment_field_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    start_field_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    fields: dict[str, str] = Field(default_factory=dict)
    follow_up: Literal["note", "ticket"] = "note"
    owner_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")

    @property
    def url(self) -> str:
        return (self.base_url or f"https://{self.subdomain}.zendesk.com").rstrip("/")

    @property
    def configured(self) -> bool:
        """API credentials and where to send them."""
        token = bool(self.email and secret(self.api_token)) or bool(secret(self.oauth_token))
        return token and bool(self.subdomain or self.base_url)
