"""Mindbody's settings section (env prefix NOSHOW_MINDBODY_)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection

DEFAULT_BASE_URL = "https://api.mindbodyonline.com/public/v6"


class MindbodySettings(EnvSection):
    """NOSHOW_MINDBODY_SIGNATURE_KEY (the subscription's `messageSignatureKey`: opens /webhooks/mindbody),
    _API_KEY and _SITE_ID (Public API v6 headers), _USERNAME / _PASSWORD (the staff login whose user token the
    business-mode calls carry), _BASE_URL, _TIME_ZONE (the site's zone: the API's times carry no offset),
    _CALENDAR (`<sessionTypeId>@<locationId>`: where appointments from other sources are rebooked), _SLOT_MINUTES,
    _HEALTH (true when the business is a health practice: its data is then handled as health data)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_MINDBODY_")

    signature_key: SecretStr | None = None
    api_key: SecretStr | None = None
    site_id: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    base_url: str = DEFAULT_BASE_URL
    time_zone: str = "UTC"
    calendar: str | None = None
    slot_minutes: int = 60
    health: bool = False

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone name (the site's zone)") from None
        return value
