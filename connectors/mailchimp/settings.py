"""The Mailchimp connector's settings (no SDK imported, so reading the configuration stays cheap)."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection


class MailchimpSettings(EnvSection):
    """NOSHOW_MAILCHIMP_API_KEY (`<key>-<dc>`: the data centre is its suffix), NOSHOW_MAILCHIMP_BASE_URL (default
    `https://<dc>.api.mailchimp.com/3.0`; tests: the fake), NOSHOW_MAILCHIMP_WEBHOOK_SECRET (the secret put in the
    audience webhook's URL as `?secret=`: opens /webhooks/mailchimp), NOSHOW_MAILCHIMP_TIMEOUT_SECONDS."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_MAILCHIMP_")

    api_key: SecretStr | None = None
    base_url: str | None = None
    webhook_secret: SecretStr | None = None
    timeout_seconds: float = 10.0
