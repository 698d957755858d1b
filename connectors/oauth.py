"""OAuth bearer tokens for the httpx JSON clients, and the one token manager every connector uses.

A token is either a string (a static access token from the environment: fine for tests and short trials) or a
callable that returns a fresh one on every request: a `TokenManager`. The token goes only into the
`Authorization` header: never into a URL, a log line or an exception message.

`TokenManager` keeps the token in a `TokenStore` (the engine's SQL store, sealed: connectors/local/oauth_tokens.py),
refreshes it `refresh_before` ahead of its expiry, and refreshes under the store's per-credential lock so replicas
refresh once and a rotated refresh token is kept. Grants (RFC 6749 and RFC 7523):
- `RefreshTokenGrant`: authorization code with refresh; the refresh token obtained at consent is the seed, and
  a new one the provider returns replaces it (Google: https://developers.google.com/identity/protocols/oauth2/web-server#offline,
  Microsoft: https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token).
- `ClientCredentialsGrant`: `grant_type=client_credentials` with a scope (Graph application permissions:
  https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow).
- `JwtBearerGrant`: `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with an RS256 assertion
  (`iss`, `sub`, `aud`, `exp` a few minutes ahead), as Salesforce's server-to-server flow takes it
  (https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm); no refresh token: the grant
  is repeated.
- `SmartBackendGrant`: SMART Backend Services
  (https://hl7.org/fhir/smart-app-launch/backend-services.html,
  https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html): `grant_type=client_credentials` with
  the client authenticated by a signed JWT (`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:
  jwt-bearer`), RS384 or ES384, header `alg`, `kid`, `typ: JWT` (and `jku` when the client registered a JWKS URL),
  claims `iss` = `sub` = client id, `aud` = the token URL, a fresh `jti` and `exp` at most five minutes ahead; no
  refresh token: the grant is repeated.
A refused grant (`invalid_grant`, `invalid_client`) is a PermanentProviderError: a person must re-consent.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from pydantic import BaseModel

from connectors.contract import PermanentProviderError, RetryableProviderError
from connectors.http import JsonApi, error_from_exception, error_from_response

TokenSource = str | Callable[[], str]


def current_token(token: TokenSource) -> str:
    """The access token to send now; a callable is asked each time so it can refresh before expiry."""
    return token() if callable(token) else token


def bearer_header(token: TokenSource) -> dict[str, str]:
    return {"Authorization": f"Bearer {current_token(token)}"}


class BearerJsonApi(JsonApi):
    """A JsonApi that sends `Authorization: Bearer <token>` on every request, reading the token per request.

    Headers the caller passes win over the bearer header (a provider call that needs another scheme can say so).
    """

    def __init__(self, access_token: TokenSource, base_url: str, timeout: float = 10.0,
                 http: httpx.Client | None = None) -> None:
        super().__init__(base_url, {}, timeout, http)
        self._token = access_token

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        kwargs["headers"] = {**bearer_header(self._token), **(kwargs.get("headers") or {})}
        return super().request(method, path, **kwargs)


class OAuthToken(BaseModel):
    access_token: str
    expires_at: datetime
    refresh_token: str | None = None
    instance_url: str | None = None  # Salesforce's instance, Zoho's api_domain, Pipedrive's api_domain
    scope: str | None = None


class TokenStore(Protocol):
    def get(self, provider: str, account: str) -> OAuthToken | None: ...

    def refresh(self, provider: str, account: str, still_fresh: Callable[[OAuthToken], bool],
                fetch: Callable[[OAuthToken | None], OAuthToken]) -> OAuthToken: ...


class MemoryTokenStore:
    """One process only (tests, a single worker without a database)."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], OAuthToken] = {}
        self._lock = threading.Lock()

    def get(self, provider: str, account: str) -> OAuthToken | None:
        return self._tokens.get((provider, account))

    def refresh(self, provider: str, account: str, still_fresh: Callable[[OAuthToken], bool],
                fetch: Callable[[OAuthToken | None], OAuthToken]) -> OAuthToken:
        with self._lock:
            current = self._tokens.get((provider, account))
            if current is not None and still_fresh(current):
                return current
            fresh = fetch(current)
            self._tokens[(provider, account)] = fresh
            return fresh


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


JWS_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"RS256": hashes.SHA256, "RS384": hashes.SHA384,
                                                      "ES384": hashes.SHA384}


def jwt_signing_input(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """base64url(header) + "." + base64url(claims), compact JSON in the given key order (RFC 7515 section 5.1)."""
    return (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode()))


def jwt_sign(header: dict[str, Any], claims: dict[str, Any], private_key_pem: str) -> str:
    """A compact JWS for `header["alg"]`: RS256 / RS384 (RSASSA-PKCS1-v1_5) or ES384 (P-384, the signature as
    the raw R || S pair RFC 7518 section 3.4 asks for, not DER)."""
    alg = str(header.get("alg"))
    if alg not in JWS_HASHES:
        raise ValueError(f"unsupported JWT algorithm {alg}")
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    signing_input = jwt_signing_input(header, claims).encode()
    if alg.startswith("RS"):
        if not isinstance(key, RSAPrivateKey):
            raise ValueError(f"{alg} needs an RSA private key")
        signature = key.sign(signing_input, padding.PKCS1v15(), JWS_HASHES[alg]())
    else:
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp384r1":
            raise ValueError(f"{alg} needs a P-384 elliptic-curve private key")
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(JWS_HASHES[alg]())))
        signature = r.to_bytes(48, "big") + s.to_bytes(48, "big")
    return signing_input.decode() + "." + _b64url(signature)


def jwt_rs256(claims: dict[str, Any], private_key_pem: str, kid: str | None = None) -> str:
    """A compact RS256 JWT (RFC 7515/7519) signed with an RSA private key in PEM."""
    return jwt_sign({"alg": "RS256", "typ": "JWT", **({"kid": kid} if kid else {})}, claims, private_key_pem)


class Grant(Protocol):
    def form(self, stored: OAuthToken | None, now: datetime) -> dict[str, str]: ...


class RefreshTokenGrant:
    def __init__(self, client_id: str, client_secret: str, refresh_token: str, scope: str | None = None) -> None:
        if not (client_id and refresh_token):
            raise ValueError("a refresh-token grant needs a client id and a refresh token")
        self.client_id, self.client_secret, self.seed, self.scope = client_id, client_secret, refresh_token, scope

    def form(self, stored: OAuthToken | None, now: datetime) -> dict[str, str]:
        refresh = (stored.refresh_token if stored is not None else None) or self.seed
        form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": self.client_id}
        if self.client_secret:
            form["client_secret"] = self.client_secret
        if self.scope:
            form["scope"] = self.scope
        return form


class BasicClientRefreshGrant(RefreshTokenGrant):
    """A refresh-token grant whose client authenticates with HTTP Basic (RFC 6749 section 2.3.1) instead of form
    fields, as Pipedrive's token endpoint takes it
    (https://pipedrive.readme.io/docs/marketplace-oauth-authorization#step-7-refreshing-the-tokens)."""

    def form(self, stored: OAuthToken | None, now: datetime) -> dict[str, str]:
        form = super().form(stored, now)
        form.pop("client_id", None)
        form.pop("client_secret", None)
        return form

    def headers(self) -> dict[str, str]:
        pair = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode("ascii")
        return {"Authorization": f"Basic {pair}"}


class ClientCredentialsGrant:
    def __init__(self, client_id: str, client_secret: str, scope: str | None = None) -> None:
        if not (client_id and client_secret):
            raise ValueError("a client-credentials grant needs a client id and secret")
        self.client_id, self.client_secret, self.scope = client_id, client_secret, scope

    def form(self, stored: OAuthToken | None, now: datetime) -> dict[str, str]:
        form = {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret}
        if self.scope:
            form["scope"] = self.scope
        return form


class JwtBearerGrant:
    lifetime = timedelta(minutes=3)  # Salesforce refuses an assertion whose exp is further ahead

    def __init__(self, issuer: str, subject: str, audience: str, private_key_pem: str) -> None:
        if not (issuer and subject and audience and private_key_pem):
            raise ValueError("a JWT bearer grant needs an issuer, a subject, an audience and a private key")
        self.issuer, self.subject, self.audience, self.key = issuer, subject, audience, private_key_pem

    def form(self, stored: OAuthToken | None, now: datetime) -> dict[str, str]:
        claims = {"iss": self.issuer, "sub": self.subject, "aud": self.audience,
                  "exp": int((now + self.lifetime).timestamp())}
        return {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": jwt_rs256(claims, self.key)}


class SmartBackendGrant(JwtBearerGrant):
    """SMART Backend Services: a client-credentials grant whose client authenticates with a signed JWT."""

    lifetime = timedelta(minutes=4)  # SMART: exp no more than five minutes in the future
    algorithms = ("RS384", "ES384")
    assertion_type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

    def __init__(self, client_id: str, token_url: str, private_key_pem: str, kid: str, scope: str,
                 alg: str = "RS384", jku: str | None = None, nonce: Callable[[], str] = lambda: str(uuid.uuid4())
                 ) -> None:
        super().__init__(client_id, client_id, token_url, private_key_pem)
        if alg not in self.algorithms:
            raise ValueError("a SMART backend client signs with RS384 or ES384")
        if not kid or not scope.strip():
            raise ValueError("a SMART backend grant needs the key id (kid) and the scopes")
        self.kid, self.scope, self.alg, self.jku, self.nonce = kid, " ".join(scope.split()), alg, jku, nonce

    def assertion(self, now: datetime) -> str:
        header: dict[str, Any] = {"alg": self.alg, "kid": self.kid, "typ": "JWT", **({"jku": self.jku} if self.jku
                                                                                      else {})}
        claims = {"iss": self.issuer, "sub": self.subject, "aud": self.audience, "jti": self.nonce(),
                  "exp": int((now + self.lifetime).timestamp())}
        return jwt_sign(header, claims, self.key)

    def form(self, stored: OAuthToken | None, now: datetime) -> dict[str, str]:
        return {"grant_type": "client_credentials", "scope": self.scope,
                "client_assertion_type": self.assertion_type, "client_assertion": self.assertion(now)}


class TokenManager:
    """A TokenSource: `manager()` returns an access token valid for at least `refresh_before`.

    `default_lifetime` applies when the token endpoint names no `expires_in` (Salesforce's JWT response has none;
    its session timeout is an org setting)."""

    def __init__(self, provider: str, account: str, token_url: str, grant: Grant, store: TokenStore,
                 http: httpx.Client | None = None, refresh_before: timedelta = timedelta(minutes=5),
                 default_lifetime: timedelta = timedelta(minutes=30), timeout: float = 10.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.provider, self.account, self.token_url, self.grant, self.store = provider, account, token_url, grant, store
        self.http = http or httpx.Client(timeout=timeout)
        self.refresh_before, self.default_lifetime, self.clock = refresh_before, default_lifetime, clock
        self._cached: OAuthToken | None = None

    def _fresh(self, token: OAuthToken) -> bool:
        return token.expires_at - self.refresh_before > self.clock()

    def __call__(self) -> str:
        return self.token().access_token

    def token(self) -> OAuthToken:
        if self._cached is not None and self._fresh(self._cached):
            return self._cached
        stored = self.store.get(self.provider, self.account)
        if stored is None or not self._fresh(stored):
            stored = self.store.refresh(self.provider, self.account, self._fresh, self._fetch)
        self._cached = stored
        return stored

    def invalidate(self) -> None:
        """The provider refused the token before its expiry (revoked, a 401): the next call refreshes."""
        self._cached = None
        current = self.store.get(self.provider, self.account)
        if current is not None:
            expired = current.model_copy(update={"expires_at": self.clock() - timedelta(seconds=1)})
            self.store.refresh(self.provider, self.account, lambda _t: False, lambda _s: self._fetch(expired))

    def _fetch(self, stored: OAuthToken | None) -> OAuthToken:
        now = self.clock()
        try:
            client_auth = getattr(self.grant, "headers", None)
            response = self.http.post(self.token_url, data=self.grant.form(stored, now),
                                      headers={"Accept": "application/json",
                                               **(client_auth() if callable(client_auth) else {})})
        except httpx.HTTPError as exc:
            raise error_from_exception(exc, f"{self.provider} token endpoint") from exc
        if response.status_code != 200:
            raise error_from_response(response, f"{self.provider} token endpoint", now)
        try:
            body = response.json()
        except ValueError as exc:
            raise RetryableProviderError(f"{self.provider} token endpoint: a non-JSON answer") from exc
        access = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(access, str) or not access:
            # Zoho can refuse a refresh with a 200 whose body names the error ({"error": "invalid_code"})
            refused = body.get("error") if isinstance(body, dict) else None
            code = refused[:80] if isinstance(refused, str) and refused else "no_access_token"
            raise PermanentProviderError(f"{self.provider} token endpoint: no access_token ({code})", code=code)
        seconds = body.get("expires_in")
        try:
            lifetime = timedelta(seconds=float(seconds)) if seconds is not None else self.default_lifetime
        except (TypeError, ValueError):
            lifetime = self.default_lifetime
        rotated = body.get("refresh_token")
        return OAuthToken(
            access_token=access, expires_at=now + lifetime,
            # a provider that does not rotate sends none: keep the one we have
            refresh_token=rotated if isinstance(rotated, str) and rotated else (stored.refresh_token if stored else
                                                                                  None),
            instance_url=body.get("instance_url") or body.get("api_domain") or (stored.instance_url if stored
                                                                                else None),
            scope=body.get("scope") if isinstance(body.get("scope"), str) else None)
