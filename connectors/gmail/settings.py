"""The Gmail connector's settings. OAuth is Google's (NOSHOW_GOOGLE_CLIENT_ID + _CLIENT_SECRET + _REFRESH_TOKEN,
consented with `gmail.send` and `gmail.readonly` for the mailbox), shared with the Google token manager."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection


class GmailSettings(EnvSection):
    """NOSHOW_GMAIL_FROM_EMAIL (the Workspace mailbox that sends), _FROM_NAME, _BASE_URL, _UNSUBSCRIBE_URL (an https
    one-click unsubscribe URL for List-Unsubscribe; the mailto form is always set), _PUSH_AUDIENCE +
    _PUSH_SERVICE_ACCOUNT (the Pub/Sub push subscription's OIDC `audience` and service account: opens
    /webhooks/gmail), _CERTS_URL (Google's JWKS for the push token), _TOPIC (projects/<p>/topics/<t> for
    `users.watch`)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_GMAIL_")

    from_email: str = ""
    from_name: str | None = None
    base_url: str = "https://gmail.googleapis.com"
    unsubscribe_url: str | None = None
    push_audience: str | None = None
    push_service_account: str | None = None
    certs_url: str = "https://www.googleapis.com/oauth2/v3/certs"
    topic: str | None = Field(default=None, pattern=r"^projects/[^/]+/topics/[^/]+$")
