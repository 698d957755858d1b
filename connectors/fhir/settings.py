"""The FHIR connector's settings: nothing of the FHIR models is imported here, so reading the configuration
stays cheap."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection

V1_SUFFIXES = (".read", ".write", ".*")
V2_PERMISSIONS = frozenset("cruds")


def scope_problem(scope: str) -> str | None:
    """Why a SMART system scope list is unusable (None when every scope is `system/<Type>.<permissions>`)."""
    for item in scope.split():
        kind, _, rest = item.partition("/")
        resource, dot, permissions = rest.rpartition(".")
        if kind != "system" or not resource or not dot:
            return f"{item[:60]!r} is not a SMART system scope (system/Resource.rs)"
        if f".{permissions}" in V1_SUFFIXES:
            continue
        if not permissions or not set(permissions) <= V2_PERMISSIONS or list(permissions) != sorted(
                permissions, key="cruds".index):
            return f"{item[:60]!r}: permissions are c, r, u, d, s in that order (v2) or read / write (v1)"
    return None if scope.split() else "no scope"


DEFAULT_SCOPE = "system/Appointment.rs system/Appointment.cu system/Slot.rs system/Schedule.rs system/Patient.r"


class FhirSettings(EnvSection):
    """A FHIR R4 server (Epic, Oracle Health, any SMART-on-FHIR EHR): NOSHOW_FHIR_BASE_URL (the FHIR base,
    `.../api/FHIR/R4`), _CLIENT_ID and _PRIVATE_KEY (PEM, RS384 or ES384: SMART Backend Services, the token endpoint
    found at `{base}/.well-known/smart-configuration`), _KEY_ID (the `kid` of the registered public key), _ALGORITHM
    (RS384 | ES384), _JKU (the registered JWKS URL, when the server wants it in the header), _SCOPE, _ACCESS_TOKEN
    (a static bearer token instead: tests and short trials), _SCHEDULE_ID (the Schedule whose free Slots rebook),
    _SUBSCRIPTION_TOKEN (opens /webhooks/fhir: the bearer token the Subscription's `channel.header` sends),
    _LOOKBACK_HOURS (how far back the first poll reads)."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_FHIR_")

    base_url: str | None = None
    client_id: str | None = None
    private_key: SecretStr | None = None
    key_id: str | None = None
    algorithm: Literal["RS384", "ES384"] = "RS384"
    jku: str | None = None
    scope: str = DEFAULT_SCOPE
    access_token: SecretStr | None = None
    schedule_id: str | None = None
    subscription_token: SecretStr | None = None
    lookback_hours: int = 24

    @field_validator("scope")
    @classmethod
    def _smart_scopes(cls, value: str) -> str:
        problem = scope_problem(value)
        if problem:
            raise ValueError(problem)
        return " ".join(value.split())
