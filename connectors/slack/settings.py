"""The slack connector's settings: no SDK is imported here, so reading the configuration stays cheap."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection


class SlackSettings(EnvSection):
    """Environment: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_REVIEW_CHANNEL, SLACK_API_BASE_URL,
    SLACK_REVIEW_URL_TEMPLATE, SLACK_TIMEOUT_SECONDS, SLACK_TOLERANCE_SECONDS."""

    model_config = SettingsConfigDict(env_prefix="SLACK_")

    bot_token: SecretStr = SecretStr("")  # xoxb-..., scope chat:write
    signing_secret: SecretStr = SecretStr("")  # app's Signing Secret: verifies interactivity payloads
    review_channel: str = ""  # channel id, e.g. C123ABC456
    api_base_url: str = "https://slack.com/api"
    review_url_template: str | None = None  # e.g. https://noshow.example.com/reviews/{case_id}
    timeout_seconds: float = 10.0
    tolerance_seconds: float = 300.0
