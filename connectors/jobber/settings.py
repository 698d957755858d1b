"""Jobber's settings section (no connector code is imported here, so reading the configuration stays cheap)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection, secret


class JobberSettings(EnvSection):
    """Jobber: NOSHOW_JOBBER_CLIENT_ID + _CLIENT_SECRET (the app's OAuth client; the secret also signs the
    webhooks: it opens /webhooks/jobber) + _REFRESH_TOKEN (from the account's consent; Jobber rotates it on every
    refresh and the rotated one is kept in the sealed token store), _TOKEN_URL, _API_URL (default
    https://api.getjobber.com/api/graphql), _GRAPHQL_VERSION (the `X-JOBBER-GRAPHQL-VERSION` the queries were
    written against), _LOOKBACK_DAYS / _AHEAD_DAYS (the visit window each poll lists)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_JOBBER_")

    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    token_url: str = "https://api.getjobber.com/api/oauth/token"
    api_url: str = "https://api.getjobber.com/api/graphql"
    graphql_version: str = Field(default="2022-03-10", pattern=r"^\d{4}-\d{2}-\d{2}$")
    lookback_days: int = Field(default=7, ge=1, le=60)
    ahead_days: int = Field(default=60, ge=1, le=365)

    @property
    def configured(self) -> bool:
        return bool(self.client_id and secret(self.client_secret) and secret(self.refresh_token))
