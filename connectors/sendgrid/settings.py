"""The sendgrid connector's settings: no SDK is imported here, so reading the configuration stays cheap."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection


class SendGridSettings(EnvSection):
    """Environment: SENDGRID_API_KEY, SENDGRID_FROM_EMAIL, SENDGRID_FROM_NAME, SENDGRID_REPLY_TO,
    SENDGRID_API_HOST, SENDGRID_ASM_GROUP_ID, SENDGRID_CATEGORY, SENDGRID_TIMEOUT_SECONDS,
    SENDGRID_RESEND_AFTER_AMBIGUOUS, SENDGRID_EVENT_VERIFICATION_KEY, SENDGRID_EVENT_TOLERANCE_SECONDS,
    SENDGRID_PARSE_TOKEN, SENDGRID_PARSE_BASIC_AUTH."""

    model_config = SettingsConfigDict(env_prefix="SENDGRID_")

    api_key: SecretStr = SecretStr("")
    from_email: str = ""
    from_name: str | None = None
    reply_to: str | None = None  # the Inbound Parse address, so replies come back to the engine
    api_host: str = "https://api.sendgrid.com"  # EU subusers: https://api.eu.sendgrid.com; tests: the fake
    asm_group_id: int | None = None  # unsubscribe group: group_unsubscribe events then name it
    category: str = "no-show-recovery"
    timeout_seconds: float = 10.0
    # True: after an ambiguous failure send again (at worst one duplicate email); False: count it as possibly sent
    resend_after_ambiguous: bool = False
    # Event Webhook: the dashboard's verification key (base64 body of a P-256 public key)
    event_verification_key: SecretStr | None = None
    event_tolerance_seconds: float = 600.0  # SendGrid states no window; batches can arrive late
    # Inbound Parse has no signature: a secret in the URL (?token= or the last path segment) and/or basic auth
    parse_token: SecretStr | None = None
    parse_basic_auth: SecretStr | None = None  # "user:password", as put in the Parse URL
