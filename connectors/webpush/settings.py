"""The Web Push channel's settings: nothing heavy is imported here."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection


class WebPushSettings(EnvSection):
    """Environment: WEBPUSH_VAPID_PRIVATE_KEY (PEM, or the base64url raw key `vapid --gen` prints),
    WEBPUSH_VAPID_SUBJECT (mailto: or https: contact the push services may use), WEBPUSH_TTL_SECONDS,
    WEBPUSH_URGENCY, WEBPUSH_TIMEOUT_SECONDS."""

    model_config = SettingsConfigDict(env_prefix="WEBPUSH_")

    vapid_private_key: SecretStr | None = None  # unset: no push channel
    vapid_subject: str = "mailto:ops@example.com"
    ttl_seconds: int = 86400  # how long a push service keeps an undelivered message (pywebpush's default is 0)
    urgency: str = "normal"  # very-low | low | normal | high (RFC 8030 section 5.3)
    timeout_seconds: float = 10.0
