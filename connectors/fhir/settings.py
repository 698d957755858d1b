"""The FHIR connector's settings: nothing of the FHIR models is imported here, so reading the configuration
stays cheap."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.settings import EnvSection

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
    algorithm: str = "RS384"
    jku: str | None = None
    scope: str = DEFAULT_SCOPE
    access_token: SecretStr | None = None
    schedule_id: str | None = None
    subscription_token: SecretStr | None = None
    lookback_hours: int = 24
