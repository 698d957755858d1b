"""The engine's one settings object: every section read once, from the environment and the same `.env` file
(`NOSHOW_SETTINGS_FILE` names another), then handed to whatever needs it.

Variable names are the ones operators already set (`NOSHOW_*`, `TEMPORAL_ADDRESS`, `TWILIO_*`, `SENDGRID_*`,
`SLACK_*`); each section lists its own. `noshow settings` prints the effective values with secrets masked.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from connectors.key_spec import parse_key_spec
from connectors.settings import EnvSection, secret
from workers.api.auth.settings import OidcSettings, SessionSettings
from workers.connector_sections import ConnectorSections
from workers.deploy_settings import DeploySettings, ObservabilitySettings
from workers.digest_settings import DigestSettings

DEV_WEBHOOK_SECRET = "whsec_bm9zaG93LWxvY2FsLWRldmVsb3BtZW50LXNlY3JldC0wMQ=="


def _env(*names: str) -> Any:
    return AliasChoices(*names)


class TemporalSettings(EnvSection):
    """TEMPORAL_ADDRESS (unset: the embedded dev server), TEMPORAL_NAMESPACE, NOSHOW_TEMPORAL_PORT,
    NOSHOW_TEMPORAL_UI_PORT, NOSHOW_TASK_QUEUE, NOSHOW_MAX_CACHED_WORKFLOWS, NOSHOW_ENCRYPTION_KEY.

    Temporal Cloud (or any server behind TLS) takes the variables Temporal's own clients read: TEMPORAL_API_KEY
    (an API key; implies TLS), or mTLS with TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH,
    optionally TEMPORAL_TLS_SERVER_CA_CERT_PATH and TEMPORAL_TLS_SERVER_NAME; TEMPORAL_TLS=true turns TLS on with
    neither (a server with a public certificate)."""

    address: str | None = Field(default=None, validation_alias=_env("TEMPORAL_ADDRESS", "NOSHOW_TEMPORAL_ADDRESS"))
    namespace: str = Field(default="default",
                           validation_alias=_env("TEMPORAL_NAMESPACE", "NOSHOW_TEMPORAL_NAMESPACE"))
    port: int = Field(default=7233, validation_alias="NOSHOW_TEMPORAL_PORT")
    ui_port: int = Field(default=8233, validation_alias="NOSHOW_TEMPORAL_UI_PORT")
    task_queue: str = Field(default="noshow-cases", validation_alias="NOSHOW_TASK_QUEUE")
    max_cached_workflows: int = Field(default=500, validation_alias="NOSHOW_MAX_CACHED_WORKFLOWS")
    # base64 AES-256 key(s) for payloads and failures: "kid1:BASE64[,kid0:BASE64]" (the first encrypts)
    encryption_key: SecretStr | None = Field(default=None, validation_alias="NOSHOW_ENCRYPTION_KEY")
    api_key: SecretStr | None = Field(default=None, validation_alias="TEMPORAL_API_KEY")
    tls: bool | None = Field(default=None, validation_alias="TEMPORAL_TLS")
    tls_client_cert_path: Path | None = Field(default=None, validation_alias="TEMPORAL_TLS_CLIENT_CERT_PATH")
    tls_client_key_path: Path | None = Field(default=None, validation_alias="TEMPORAL_TLS_CLIENT_KEY_PATH")
    tls_server_ca_cert_path: Path | None = Field(default=None, validation_alias="TEMPORAL_TLS_SERVER_CA_CERT_PATH")
    tls_server_name: str | None = Field(default=None, validation_alias="TEMPORAL_TLS_SERVER_NAME")
    # how long the worker and the API keep trying to reach Temporal at start-up before they exit (and are restarted)
    connect_wait_seconds: float = Field(default=300, gt=0, validation_alias="NOSHOW_TEMPORAL_CONNECT_SECONDS")
    @field_validator("encryption_key", mode="after")
    @classmethod
    def _key_format(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip():
            parse_key_spec(value.get_secret_value())  # refused here, once, rather than when a sealed store opens
        return value

    @property
    def cloud(self) -> bool:
        """True when the address is Temporal Cloud's (a namespace endpoint or the regional API endpoint)."""
        host = (self.address or "").rsplit(":", 1)[0].lower()
        return host.endswith(".tmprl.cloud") or host.endswith(".api.temporal.io")

    @property
    def uses_tls(self) -> bool:
        if self.tls is not None:
            return self.tls
        return bool(secret(self.api_key) or self.tls_client_cert_path or self.tls_server_ca_cert_path)

    @property
    def target(self) -> str:
        return self.address or f"127.0.0.1:{self.port}"

    @property
    def embedded(self) -> bool:
        return not self.address


class ApiSettings(EnvSection):
    """NOSHOW_API_HOST, NOSHOW_API_PORT, NOSHOW_PUBLIC_BASE_URL (the address providers and customers reach),
    NOSHOW_MAX_BODY_BYTES (webhooks), NOSHOW_MAX_JSON_BODY_BYTES (every other route), NOSHOW_API_BODY_READ_SECONDS
    (a body not complete by then gets 408), NOSHOW_API_KEEP_ALIVE_SECONDS (idle keep-alive connections closed),
    NOSHOW_API_TEMPORAL_WAIT_SECONDS (a route that needs Temporal answers 503 after this long without it),
    NOSHOW_API_ACK_SECONDS (how long a verified webhook waits for its own effects before it is answered 202, its
    delivery queued), NOSHOW_API_INTAKE_MAX_PENDING (queued deliveries past which webhooks get 503 Retry-After),
    NOSHOW_API_INTAKE_INLINE (deliveries one API applies at once; more wait in the queue)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_API_")

    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str = Field(default="http://127.0.0.1:8000", validation_alias="NOSHOW_PUBLIC_BASE_URL")
    max_body_bytes: int = Field(default=256 * 1024, validation_alias="NOSHOW_MAX_BODY_BYTES")
    max_json_body_bytes: int = Field(default=64 * 1024, validation_alias="NOSHOW_MAX_JSON_BODY_BYTES")
    body_read_seconds: float = 10.0
    keep_alive_seconds: int = 5
    temporal_wait_seconds: float = 1.0
    # under the tightest provider delivery timeout (Slack and Zoom: 3 s) with room for the network
    ack_seconds: float = Field(default=0.5, gt=0, le=60)
    intake_max_pending: int = Field(default=10_000, ge=1)
    # applying at once is for the calm case; past this many in flight a delivery is queued and answered 202
    intake_inline: int = Field(default=8, ge=1, le=1000)

    @property
    def local_url(self) -> str:
        return f"http://{self.host}:{self.port}"


def project_root() -> Path:
    """Where a relative NOSHOW_DATA_DIR is anchored: the source checkout this package runs from (the folder with
    pyproject.toml), so a command run from another directory reads the same data and never starts an empty
    copy there; an installed package without a checkout anchors at the working directory (set an absolute path)."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


class StorageSettings(EnvSection):
    """NOSHOW_DATABASE_URL (the operational store: unset, one SQLite file <data_dir>/local.db; in production a
    Postgres URL such as postgresql+psycopg://user:pass@host/noshow, shared by every API and worker replica),
    NOSHOW_DATA_DIR (a relative path is taken from the project folder, not the current directory),
    NOSHOW_LOCAL_DB_URL (the SQLite file when NOSHOW_DATABASE_URL is unset), NOSHOW_LEDGER_URL
    (default: NOSHOW_DATABASE_URL when set, else sqlite:///<data_dir>/ledger.db)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_")

    data_dir: Path = Path("data")
    database_url: SecretStr | None = None  # a URL may carry a password

    @field_validator("data_dir", mode="after")
    @classmethod
    def _anchored(cls, value: Path) -> Path:
        return value if value.is_absolute() else project_root() / value
    local_db_url: str | None = None
    ledger_url: str | None = None

    @property
    def local_db_path(self) -> Path:
        if self.local_db_url:
            return Path(self.local_db_url.removeprefix("sqlite:///"))
        return self.data_dir / "local.db"

    @property
    def database(self) -> str:
        """The operational store's SQLAlchemy URL."""
        url = secret(self.database_url)
        return url or f"sqlite:///{self.local_db_path}"

    @property
    def shared_database(self) -> bool:
        """True when NOSHOW_DATABASE_URL names the store (replicas on several hosts share it)."""
        return bool(secret(self.database_url))

    @property
    def ledger_db_url(self) -> str:
        return self.ledger_url or secret(self.database_url) or f"sqlite:///{self.data_dir / 'ledger.db'}"

    @property
    def send_log_path(self) -> str:
        return str(self.data_dir / "sendlog.db")

    @property
    def send_log_url(self) -> str:
        """The providers' send log: in the shared database when there is one, else its own SQLite file."""
        return secret(self.database_url) or f"sqlite:///{self.send_log_path}"


class PolicySettings(EnvSection):
    """NOSHOW_POLICY_FILE: the approved policy YAML (unset: the shipped default)."""

    file: Path | None = Field(default=None, validation_alias="NOSHOW_POLICY_FILE")


class AuthSettings(EnvSection):
    """NOSHOW_WEBHOOK_SECRET (Standard Webhooks `whsec_...`, comma-separated for rotation),
    NOSHOW_REVIEWER_TOKENS (`token=reviewer@example.com:program1|program2,...`, `*` = every program),
    NOSHOW_OWNER_TOKENS (same format, for owners), NOSHOW_ADMIN_TOKEN,
    NOSHOW_LINK_SECRET (signs self-serve booking links), NOSHOW_ID_SALT (keys opaque ids).
    The defaults are for the embedded development stack only."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_")

    webhook_secret: SecretStr = SecretStr(DEV_WEBHOOK_SECRET)
    reviewer_tokens: SecretStr = SecretStr("dev-reviewer-token=reviewer@example.com:*")
    owner_tokens: SecretStr = SecretStr("")
    admin_token: SecretStr = SecretStr("dev-admin-token")
    link_secret: SecretStr = SecretStr("noshow-local-link-secret")
    id_salt: str = "noshow"

    @property
    def webhook_secrets(self) -> list[str]:
        return [s.strip() for s in self.webhook_secret.get_secret_value().split(",") if s.strip()]


class LoggingSettings(EnvSection):
    """NOSHOW_LOG_FORMAT (auto | json | console), NOSHOW_LOG_LEVEL."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_LOG_")

    format: Literal["auto", "json", "console"] = "auto"
    level: str = "INFO"


class CodecSettings(EnvSection):
    """The codec server for the Temporal UI: NOSHOW_CODEC_TOKENS (comma-separated bearer tokens),
    NOSHOW_CODEC_ORIGINS, NOSHOW_CODEC_NAMESPACES (empty = any), NOSHOW_CODEC_MAX_BODY_BYTES, NOSHOW_CODEC_PORT
(`noshow up`). The key is
    the Temporal section's NOSHOW_ENCRYPTION_KEY."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_CODEC_")

    tokens: SecretStr = SecretStr("")
    origins: str = "http://127.0.0.1:8233,http://localhost:8233"
    namespaces: str = ""
    max_body_bytes: int = 8 * 1024 * 1024  # a history page of payloads; Temporal caps one payload at 2 MB
    port: int = 8234  # where `noshow up` serves it next to the embedded dev server's UI


# one provider a line, so connectors added side by side merge cleanly
CalendarProvider = Literal[
    "local",
    "calcom",
    "calendly",
    "google",
    "outlook",
    "gohighlevel",
    "mindbody",
    "acuity",
    "square",
    "fhir",
]
CrmProvider = Literal[
    "local",
    "hubspot",
    "salesforce",
    "zoho",
    "pipedrive",
    "activecampaign",
    "gohighlevel",
    "zendesk",
    "freshdesk",
    "jobber",
    "servicetitan",
    "sheets",
    "airtable",
]


class RoutingSettings(EnvSection):
    """Which provider does what; anything left `local` stays on the embedded default: NOSHOW_SMS_PROVIDER,
    NOSHOW_EMAIL_PROVIDER, NOSHOW_REVIEW_NOTIFIER, NOSHOW_SLACK_REVIEWERS (Slack user ids allowed to decide
    reviews, comma-separated, `*` = anyone in the channel; `U123:program1|program2` scopes one to programs),
    NOSHOW_CALENDAR_PROVIDER, NOSHOW_CRM_PROVIDER, NOSHOW_DEFAULT_REGION (where national phone numbers are read)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_")

    sms_provider: Literal["local", "twilio"] = "local"
    email_provider: Literal["local", "sendgrid", "gmail"] = "local"
    review_notifier: Literal["local", "slack"] = "local"
    slack_reviewers: str = ""
    calendar_provider: CalendarProvider = "local"
    crm_provider: CrmProvider = "local"
    # the country a phone number written without +country code is read in (ISO 3166-1 alpha-2): NOSHOW_DEFAULT_REGION
    default_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")

    @property
    def slack_reviewer_ids(self) -> set[str]:
        return {u.strip() for u in self.slack_reviewers.split(",") if u.strip()}


class ReplyModelSettings(EnvSection):
    """An optional OpenAI-compatible reply classifier: NOSHOW_REPLY_MODEL_URL (unset: rules only),
    NOSHOW_REPLY_MODEL_NAME, NOSHOW_REPLY_MODEL_API_KEY, NOSHOW_REPLY_MODEL_TIMEOUT."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_REPLY_MODEL_")

    url: str | None = None
    name: str = "default"
    api_key: SecretStr | None = None
    timeout: float = 5.0


class ReconcileSettings(EnvSection):
    """Polling of every source with API credentials: NOSHOW_RECONCILE_EVERY_MINUTES, NOSHOW_RECONCILE_MAX_AGE_DAYS
    (older never-seen appointments start no case)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_RECONCILE_")

    every_minutes: int = Field(default=15, ge=1, le=24 * 60)
    max_age_days: int = Field(default=7, ge=1)

    @property
    def every(self) -> timedelta:
        return timedelta(minutes=self.every_minutes)

    @property
    def max_age(self) -> timedelta:
        return timedelta(days=self.max_age_days)


class PushSettings(EnvSection):
    """Upkeep of Google channels and Graph subscriptions: NOSHOW_PUSH_RENEW_EVERY_MINUTES,
    NOSHOW_PUSH_RENEW_BEFORE_HOURS (Outlook's maximum lifetime is about 70 h)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_PUSH_")

    renew_every_minutes: int = Field(default=60, ge=5, le=24 * 60)
    renew_before_hours: float = Field(default=24, gt=0, le=48)

    @property
    def every(self) -> timedelta:
        return timedelta(minutes=self.renew_every_minutes)

    @property
    def renew_before(self) -> timedelta:
        return timedelta(hours=self.renew_before_hours)


class CoreSections(EnvSection):
    """The engine's own sections: where it runs, how it stores, who may call it, how it logs and reports."""

    deploy: DeploySettings = Field(default_factory=DeploySettings)
    temporal: TemporalSettings = Field(default_factory=TemporalSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    session: SessionSettings = Field(default_factory=SessionSettings)
    oidc: OidcSettings = Field(default_factory=OidcSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    codec: CodecSettings = Field(default_factory=CodecSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    reply_model: ReplyModelSettings = Field(default_factory=ReplyModelSettings)
    reconcile: ReconcileSettings = Field(default_factory=ReconcileSettings)
    push: PushSettings = Field(default_factory=PushSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)


class Settings(ConnectorSections, CoreSections):
    """Every section, the engine's own first and then each connector's (`workers/connector_sections.py`); build
    it once (`get_settings()`, or `Settings()` in tests with the sections they change).

    The sections read the environment; the whole takes only its sections as arguments (a misspelt one is an
    error, not a setting silently ignored)."""

    model_config = SettingsConfigDict(extra="forbid")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

    @model_validator(mode="after")
    def _renew_before_the_channel_expires(self) -> Settings:
        if self.push.renew_before_hours >= self.google.channel_ttl_hours:
            raise ValueError("NOSHOW_PUSH_RENEW_BEFORE_HOURS must be shorter than NOSHOW_GOOGLE_CHANNEL_TTL_HOURS, "
                             "or every channel would be renewed as soon as it opens")
        return self

    def masked(self) -> dict[str, Any]:
        """Every effective value by section, secrets shown only as set or unset (for `noshow settings`)."""
        return {name: _masked(getattr(self, name)) for name in type(self).model_fields}


def _masked(section: EnvSection) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in type(section).model_fields:
        value = getattr(section, name)
        if isinstance(value, SecretStr):
            default = type(section).model_fields[name].default
            if not value.get_secret_value():
                out[name] = "(empty)"
            elif isinstance(default, SecretStr) and default.get_secret_value() == value.get_secret_value():
                out[name] = "(development default: set a real one outside the embedded stack)"
            else:
                out[name] = "(set)"
        elif isinstance(value, Path):
            out[name] = str(value)
        else:
            out[name] = value
    return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()


__all__ = ["CalendarProvider", "CrmProvider", "Settings", "get_settings", "secret"]
