"""The QuickBooks Online connector's settings (no SDK imported, so reading the configuration stays cheap)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection

PRODUCTION = "https://quickbooks.api.intuit.com/v3"
SANDBOX = "https://sandbox-quickbooks.api.intuit.com/v3"


class QuickBooksSettings(EnvSection):
    """NOSHOW_QUICKBOOKS_CLIENT_ID + _CLIENT_SECRET + _REFRESH_TOKEN (the app's OAuth 2.0 client and the refresh
    token of the company's authorization; Intuit rotates it, the engine keeps the latest), _REALM_ID (the
    company), _BASE_URL (production; sandbox https://sandbox-quickbooks.api.intuit.com/v3), _TOKEN_URL,
    _MINORVERSION (sent on every call), _VERIFIER_TOKEN (the app's webhook verifier token: opens
    /webhooks/quickbooks), _TIMEOUT_SECONDS."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_QUICKBOOKS_")

    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    realm_id: str | None = Field(default=None, pattern=r"^[0-9]{1,30}$")
    base_url: str = PRODUCTION
    token_url: str = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    minorversion: int = Field(default=75, ge=1, le=999)
    verifier_token: SecretStr | None = None
    timeout_seconds: float = 10.0
