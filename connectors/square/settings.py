"""The Square Appointments connector's settings."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection, secret

# The Square-Version the official Python SDK pins (squareup 46.0.0.20260916, square/core/client_wrapper.py).
DEFAULT_SQUARE_VERSION = "2026-09-16"


class SquareSettings(EnvSection):
    """NOSHOW_SQUARE_ACCESS_TOKEN (bearer: a personal access token or an OAuth access token), NOSHOW_SQUARE_BASE_URL
    (https://connect.squareupsandbox.com for the sandbox), NOSHOW_SQUARE_VERSION (the Square-Version header),
    NOSHOW_SQUARE_SIGNATURE_KEY (the webhook subscription's signature key: opens /webhooks/square),
    NOSHOW_SQUARE_NOTIFICATION_URL (the exact notification URL on the subscription; default the public URL the
    request reached), NOSHOW_SQUARE_LOCATION_ID + NOSHOW_SQUARE_SERVICE_VARIATION_ID (where appointments from other
    sources are rebooked; the location also narrows the poll)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_SQUARE_")

    access_token: SecretStr | None = None
    base_url: str = "https://connect.squareup.com"
    version: str = Field(default=DEFAULT_SQUARE_VERSION, pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
    signature_key: SecretStr | None = None
    notification_url: str | None = None
    location_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    service_variation_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")

    @property
    def configured(self) -> bool:
        return secret(self.access_token) is not None
