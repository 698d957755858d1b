"""The Acuity Scheduling connector's settings."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection, secret


class AcuitySettings(EnvSection):
    """NOSHOW_ACUITY_USER_ID + NOSHOW_ACUITY_API_KEY (HTTP Basic for the API; the API key also signs the webhooks:
    setting both opens /webhooks/acuity), NOSHOW_ACUITY_BASE_URL, NOSHOW_ACUITY_APPOINTMENT_TYPE_ID (+ optional
    NOSHOW_ACUITY_CALENDAR_ID: where appointments from other sources are rebooked), NOSHOW_ACUITY_SLOT_MINUTES,
    NOSHOW_ACUITY_NO_SHOW_LABELS / _ATTENDED_LABELS (account-defined label names that mean a no-show / a visit)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_ACUITY_")

    user_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    api_key: SecretStr | None = None
    base_url: str = "https://acuityscheduling.com/api/v1"
    appointment_type_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    calendar_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    slot_minutes: int = Field(default=30, ge=5, le=24 * 60)
    no_show_labels: list[str] = Field(default_factory=list)
    attended_labels: list[str] = Field(default_factory=list)

    @property
    def configured(self) -> bool:
        return bool(self.user_id and secret(self.api_key))
