"""The Freshdesk connector's settings: nothing heavy is imported here, so reading the configuration stays cheap."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection, secret


class FreshdeskSettings(EnvSection):
    """Freshdesk: NOSHOW_FRESHDESK_DOMAIN (https://<domain>.freshdesk.com) or _BASE_URL, _API_KEY (an agent's API
    key, sent as the Basic user with password `X`), _WEBHOOK_TOKEN (the value of the custom header _WEBHOOK_HEADER,
    default X-Noshow-Token, set on the rule's webhook) and/or _WEBHOOK_USER + _WEBHOOK_PASSWORD (the rule's
    "Requires authentication" pair): either opens /webhooks/freshdesk; _REASON_FIELD (the ticket field whose
    value says what happened, default cf_reason), _STATUSES (JSON: field value -> no_show, cancelled,
    rescheduled, attended or reschedule_requested; merged over the defaults), _APPOINTMENT_FIELD and _START_FIELD
    (custom fields holding the appointment's own id and time), _FIELDS (JSON: canonical field -> cf_ field written
    back), _FOLLOW_UP (note or ticket), _OWNER_ID (the agent assigned follow-up tickets)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_FRESHDESK_")

    domain: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9\-]{0,62}$")
    base_url: str | None = None
    api_key: SecretStr | None = None
    webhook_header: str = Field(default="X-Noshow-Token", pattern=r"^[A-Za-z0-9\-]{1,64}$")
    webhook_token: SecretStr | None = None
    webhook_user: str | None = None
    webhook_password: SecretStr | None = None
    reason_field: str = Field(default="cf_reason", pattern=r"^cf_[a-z0-9_]{1,100}$")
    statuses: dict[str, str] = Field(default_factory=dict)
    appointment_field: str | None = Field(default=None, pattern=r"^cf_[a-z0-9_]{1,100}$")
    start_field: str | None = Field(default=None, pattern=r"^cf_[a-z0-9_]{1,100}$")
    fields: dict[str, str] = Field(default_factory=dict)
    follow_up: Literal["note", "ticket"] = "note"
    owner_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")

    @property
    def url(self) -> str:
        return (self.base_url or f"https://{self.domain}.freshdesk.com").rstrip("/")

    @property
    def configured(self) -> bool:
        return bool(secret(self.api_key)) and bool(self.domain or self.base_url)

    @property
    def webhook_open(self) -> bool:
        return bool(secret(self.webhook_token) or (self.webhook_user and secret(self.webhook_password)))
