"""The Airtable connector's settings."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection


class AirtableSettings(EnvSection):
    """NOSHOW_AIRTABLE_TOKEN (a personal access token: `data.records:read`, `data.records:write`,
    `webhook:manage`), _BASE_ID (`app...`), _TABLE (its id `tbl...` or name), _WEBHOOK_ID (`ach...`) +
    _MAC_SECRET (the webhook's `macSecretBase64`: opens /webhooks/airtable), _BASE_URL, _TIMEZONE,
    _OUTCOME_FIELDS (JSON: engine field -> the Airtable field it is written to)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_AIRTABLE_")

    token: SecretStr | None = None
    base_id: str | None = Field(default=None, pattern=r"^app[A-Za-z0-9]{14}$")
    table: str | None = Field(default=None, min_length=1, max_length=200)
    webhook_id: str | None = Field(default=None, pattern=r"^ach[A-Za-z0-9]{14}$")
    mac_secret: SecretStr | None = None
    base_url: str = "https://api.airtable.com"
    timezone: str = "UTC"
    outcome_fields: dict[str, str] = Field(default_factory=dict)
