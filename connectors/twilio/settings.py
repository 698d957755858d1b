"""The twilio connector's settings: no SDK is imported here, so reading the configuration stays cheap."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection


class TwilioSettings(EnvSection):
    """Environment: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER, TWILIO_WHATSAPP_FROM,
    TWILIO_MESSAGING_SERVICE_SID, TWILIO_STATUS_CALLBACK_URL, TWILIO_PUBLIC_BASE_URL, TWILIO_API_BASE_URL,
    TWILIO_WEBHOOK_SHARED_KEY, TWILIO_TIMEOUT_SECONDS."""

    model_config = SettingsConfigDict(env_prefix="TWILIO_")

    account_sid: str = ""
    auth_token: SecretStr = SecretStr("")  # the primary Auth Token: it also signs the webhooks
    from_number: str | None = None  # E.164 sender for SMS
    whatsapp_from: str | None = None  # E.164 WhatsApp sender (with or without the whatsapp: prefix)
    messaging_service_sid: str | None = None  # MG...: used instead of From when set
    status_callback_url: str | None = None  # default: <public_base_url>/webhooks/twilio
    public_base_url: str | None = None  # scheme://host[/prefix] Twilio calls, when a proxy rewrites it
    api_base_url: str | None = None  # tests point the SDK at the fake; None = https://api.twilio.com
    webhook_shared_key: SecretStr | None = None  # SharedKey secret for HMAC_SHA256-signed webhooks
    timeout_seconds: float = 10.0
    lookup_skew_seconds: float = 300.0  # clock skew allowed when matching a message created by a lost attempt
