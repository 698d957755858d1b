"""Sign-in settings: browser sessions and OpenID Connect. Read through the one `Settings` object."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection


class SessionSettings(EnvSection):
    """NOSHOW_SESSION_SECURE (unset: secure when NOSHOW_PUBLIC_BASE_URL is https; set false only for local http),
    NOSHOW_SESSION_SAMESITE (lax | strict), NOSHOW_SESSION_TTL_HOURS."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_SESSION_")

    secure: bool | None = None
    samesite: Literal["lax", "strict"] = "lax"
    ttl_hours: float = Field(default=12, gt=0, le=24 * 30)


class OidcSettings(EnvSection):
    """OpenID Connect sign-in (authorization code + PKCE): NOSHOW_OIDC_ISSUER (unset: local accounts only),
    NOSHOW_OIDC_CLIENT_ID, NOSHOW_OIDC_CLIENT_SECRET, NOSHOW_OIDC_SCOPES, NOSHOW_OIDC_GROUPS_CLAIM and
    NOSHOW_OIDC_ROLES: who gets which role for which programs, comma-separated entries
    `group:<group>=<role>[:<program>|<program>]`, `email:<address>=...` or `domain:<domain>=...` (email entries
    need `email_verified`). A person gets the highest role any entry gives them, with that role's programs; a person
    no entry matches is refused."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_OIDC_")

    issuer: str | None = None
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    scopes: str = "openid email profile"
    groups_claim: str = "groups"
    roles: str = ""
    timeout_seconds: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.issuer and self.client_id)
