"""SMART Backend Services for a FHIR server (https://hl7.org/fhir/smart-app-launch/backend-services.html).

The token endpoint is discovered at `{fhir base}/.well-known/smart-configuration`
(https://hl7.org/fhir/smart-app-launch/conformance.html): `token_endpoint`, and, when the server lists them,
`token_endpoint_auth_methods_supported` (must include `private_key_jwt`) and
`token_endpoint_auth_signing_alg_values_supported` (must include the algorithm we sign with; Epic's sandbox does
not list it, https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4/.well-known/smart-configuration, so an
absent list is accepted). The grant itself is `SmartBackendGrant` in connectors/oauth.py; tokens are kept by the
kit's `TokenManager` in the sealed store. Scopes use the SMART v2 syntax (`system/Appointment.rs`); v1 scopes
(`system/Appointment.read`) are passed through unchanged for servers that only know those.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx

from connectors.contract import PermanentProviderError
from connectors.fhir.settings import scope_problem
from connectors.http import JsonApi
from connectors.oauth import OAuthToken, SmartBackendGrant, TokenManager


class SmartConfiguration:
    def __init__(self, body: dict[str, Any]) -> None:
        token = body.get("token_endpoint")
        if not isinstance(token, str) or not token.startswith(("https://", "http://")):
            raise PermanentProviderError("fhir: smart-configuration names no token_endpoint", code="no_token_endpoint")
        self.token_endpoint = token
        methods, algs = body.get("token_endpoint_auth_methods_supported"), body.get(
            "token_endpoint_auth_signing_alg_values_supported")
        self.methods = [str(m) for m in methods] if isinstance(methods, list) else None
        self.algorithms = [str(a) for a in algs] if isinstance(algs, list) else None

    def check(self, algorithm: str) -> None:
        if self.methods is not None and "private_key_jwt" not in self.methods:
            raise PermanentProviderError("fhir: the server does not accept private_key_jwt", code="no_private_key_jwt")
        if self.algorithms is not None and algorithm not in self.algorithms:
            raise PermanentProviderError(f"fhir: the server does not accept {algorithm} assertions",
                                         code="unsupported_alg")


def discover(base_url: str, http: httpx.Client | None = None, timeout: float = 10.0) -> SmartConfiguration:
    api = JsonApi(base_url, {"Accept": "application/json"}, timeout, http)
    api.provider = "fhir"
    body = api.call("GET", ".well-known/smart-configuration")
    if not isinstance(body, dict):
        raise PermanentProviderError("fhir: smart-configuration is not a JSON object", code="bad_configuration")
    return SmartConfiguration(body)


class SmartBackendToken:
    """A TokenSource: discovers the token endpoint on first use, then asks a `TokenManager` built by `manager`
    (the composition root passes one over the sealed store) for the token."""

    def __init__(self, base_url: str, client_id: str, private_key_pem: str, kid: str, scope: str,
                 manager: Callable[[str, SmartBackendGrant], TokenManager], algorithm: str = "RS384",
                 jku: str | None = None, http: httpx.Client | None = None) -> None:
        problem = scope_problem(scope)
        if problem:
            raise ValueError(f"NOSHOW_FHIR_SCOPE: {problem}")
        self.base_url, self.client_id, self.key, self.kid, self.scope = base_url, client_id, private_key_pem, kid, scope
        self.algorithm, self.jku, self.http, self._manager = algorithm, jku, http, manager
        self._built: TokenManager | None = None
        self._lock = threading.Lock()

    def manager(self) -> TokenManager:
        with self._lock:
            if self._built is None:
                config = discover(self.base_url, self.http)
                config.check(self.algorithm)
                grant = SmartBackendGrant(self.client_id, config.token_endpoint, self.key, self.kid, self.scope,
                                          alg=self.algorithm, jku=self.jku)
                self._built = self._manager(config.token_endpoint, grant)
            return self._built

    def token(self) -> OAuthToken:
        return self.manager().token()

    def invalidate(self) -> None:
        self.manager().invalidate()

    def __call__(self) -> str:
        return self.token().access_token
