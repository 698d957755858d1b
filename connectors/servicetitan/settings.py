"""ServiceTitan's settings section (no connector code is imported here, so reading the configuration stays cheap)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection, secret


class ServiceTitanSettings(EnvSection):
    """ServiceTitan: NOSHOW_SERVICETITAN_TENANT_ID (the numeric tenant id in every path) + _CLIENT_ID +
    _CLIENT_SECRET (issued per tenant when its admin connects the app) + _APP_KEY (the app's `ST-App-Key`),
    _AUTH_URL (default production; integration: https://auth-integration.servicetitan.io/connect/token),
    _BASE_URL (default https://api.servicetitan.io), _NO_SHOW_REASON_IDS (job cancel reason ids that mean the
    customer was not there: a no-show), _FAILED_ACCESS_REASON_IDS (job cancel reason ids that mean the technician
    came but could not get in: a failed-access report, which a person reviews), _CANCEL_REASON_ID and
    _HOLD_REASON_ID (the reasons the engine's own cancels and holds carry), _BUSINESS_UNIT_ID + _JOB_TYPE_ID +
    _CAMPAIGN_ID (what a job the engine books is filed under: `noshow demo --source servicetitan` books one),
    _TASK_REPORTER_ID + _TASK_ASSIGNEE_ID + _TASK_TYPE_ID + _TASK_SOURCE_ID (the employee and task ids the
    engine's reschedule tasks are filed with, with _BUSINESS_UNIT_ID; without them owner tasks stay in the local
    CRM), _RESCHEDULE_TASK_ON_MISS (default false: when true, a case for a missed ServiceTitan job (a no-show, a
    late cancel, a failed access) opens one "reschedule" task in ServiceTitan on that job, filed with the task ids
    above, whichever CRM the engine writes to)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_SERVICETITAN_")

    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    app_key: SecretStr | None = None
    auth_url: str = "https://auth.servicetitan.io/connect/token"
    base_url: str = "https://api.servicetitan.io"
    no_show_reason_ids: list[str] = Field(default_factory=list)
    failed_access_reason_ids: list[str] = Field(default_factory=list)
    cancel_reason_id: str | None = None
    hold_reason_id: str | None = None
    business_unit_id: str | None = None
    job_type_id: str | None = None
    campaign_id: str | None = None
    task_reporter_id: str | None = None
    task_assignee_id: str | None = None
    task_type_id: str | None = None
    task_source_id: str | None = None
    reschedule_task_on_miss: bool = False

    @field_validator("no_show_reason_ids", "failed_access_reason_ids", mode="before")
    @classmethod
    def _ids_as_text(cls, value: object) -> object:
        # reason ids are int64 in ServiceTitan's answers; `[12]` and `["12"]` mean the same
        return [str(v) for v in value] if isinstance(value, list) else value

    @property
    def configured(self) -> bool:
        return bool(self.client_id and secret(self.client_secret))
