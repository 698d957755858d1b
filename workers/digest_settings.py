"""When the owners' daily digest is sent, in which zone: a settings section of its own."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection
from policies.zones import zone_of


class DigestSettings(EnvSection):
    """The owners' daily digest (yesterday's figures, one per owner): NOSHOW_DIGEST_HOUR and NOSHOW_DIGEST_MINUTE
    (when it is sent), NOSHOW_DIGEST_TIMEZONE (the IANA zone both the sending time and "yesterday" are read in;
    owners carry no zone of their own, so one zone serves every owner: UTC unless set)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_DIGEST_")

    hour: int = Field(default=7, ge=0, le=23)
    minute: int = Field(default=0, ge=0, le=59)
    timezone: str = "UTC"

    @field_validator("timezone", mode="after")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if zone_of(value) is None:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as America/Chicago, or UTC)")
        return value
