"""The business-app webhook channel's settings."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection


class AppWebhookSettings(EnvSection):
    """Environment: APP_WEBHOOK_URL (where the business's app takes deliveries), APP_WEBHOOK_SECRET
    (`whsec_<base64>`, shared with the app, which verifies with any Standard Webhooks library),
    APP_WEBHOOK_ATTEMPTS, APP_WEBHOOK_TIMEOUT_SECONDS."""

    model_config = SettingsConfigDict(env_prefix="APP_WEBHOOK_")

    url: str | None = None  # unset: no app channel
    secret: SecretStr | None = None
    attempts: int = 3  # tries within one send before the activity's own retry takes over
    timeout_seconds: float = 10.0
