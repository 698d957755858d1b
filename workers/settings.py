"""Settings from the environment (prefix NOSHOW_, plus TEMPORAL_ADDRESS) or a `.env` / settings file."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NOSHOW_",
        env_file=os.environ.get("NOSHOW_SETTINGS_FILE", ".env"),
        extra="ignore",
    )

    data_dir: Path = Path("data")
    temporal_address: str | None = Field(
        default=None, validation_alias=AliasChoices("TEMPORAL_ADDRESS", "NOSHOW_TEMPORAL_ADDRESS")
    )
    temporal_namespace: str = Field(
        default="default", validation_alias=AliasChoices("TEMPORAL_NAMESPACE", "NOSHOW_TEMPORAL_NAMESPACE")
    )
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    task_queue: str = "noshow-cases"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"
    policy_file: Path | None = None
    local_db_url: str | None = None  # defaults to <data_dir>/local.db
    ledger_url: str | None = None  # defaults to sqlite:///<data_dir>/ledger.db
    webhook_secret: SecretStr = SecretStr("whsec_bm9zaG93LWxvY2FsLWRldmVsb3BtZW50LXNlY3JldC0wMQ==")
    # reviewer tokens: "token=reviewer@example.com:program1|program2,token2=..." ("*" = every program)
    reviewer_tokens: SecretStr = SecretStr("dev-reviewer-token=reviewer@example.com:*")
    admin_token: SecretStr = SecretStr("dev-admin-token")
    link_secret: SecretStr = SecretStr("noshow-local-link-secret")
    id_salt: str = "noshow"
    max_body_bytes: int = 256 * 1024
    log_format: str = "auto"  # auto | json | console
    log_level: str = "INFO"
    encryption_key: SecretStr | None = None  # base64 AES-256 key(s): "kid1:BASE64[,kid0:BASE64]"
    max_cached_workflows: int = 500

    @property
    def local_db_path(self) -> Path:
        if self.local_db_url:
            return Path(self.local_db_url.removeprefix("sqlite:///"))
        return self.data_dir / "local.db"

    @property
    def ledger_db_url(self) -> str:
        return self.ledger_url or f"sqlite:///{self.data_dir / 'ledger.db'}"

    @property
    def temporal_target(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
