"""OpenID Connect sign-in: authorization code flow with PKCE (S256), ID token verified against the issuer's JWKS.

Specs: OpenID Connect Core 1.0 (https://openid.net/specs/openid-connect-core-1_0.html: §3.1.2 authorization
request with `state` and `nonce`, §3.1.3.7 ID token validation: `iss` equals the issuer, `aud` contains the client
id, signature by the issuer's key, `exp` in the future, `nonce` as sent), Discovery 1.0
(https://openid.net/specs/openid-connect-discovery-1_0.html) and RFC 7636 (PKCE). Authlib's OAuth 2 client does the
code exchange; joserfc (Authlib's JOSE library) verifies the token. Only asymmetric algorithms are accepted, so a
token "signed" with `none` or with the client secret as an HMAC key is refused.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from connectors.settings import secret
from domain.ids import contact_key_for
from workers.api.auth.principal import RANK, Principal, Role, parse_programs
from workers.api.auth.settings import OidcSettings

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]


class OidcError(Exception):
    """A sign-in that cannot complete; the message names the step, never a claim value."""


@dataclass(frozen=True)
class RoleRule:
    kind: str  # group | email | domain
    value: str
    role: Role
    programs: set[str]


def parse_roles(spec: str) -> list[RoleRule]:
    rules: list[RoleRule] = []
    for item in filter(None, (p.strip() for p in spec.split(","))):
        match, _, grant = item.partition("=")
        kind, _, value = match.partition(":")
        role, _, programs = grant.partition(":")
        if kind in ("group", "email", "domain") and value and role in RANK:
            rules.append(RoleRule(kind, value.strip().lower() if kind != "group" else value.strip(),
                                  role, parse_programs(programs)))  # type: ignore[arg-type]
    return rules


def principal_for(claims: dict[str, Any], settings: OidcSettings, salt: str) -> Principal | None:
    """The role and programs the settings give these claims (highest role wins, with that role's programs)."""
    groups = claims.get(settings.groups_claim) or []
    groups = {str(g) for g in groups} if isinstance(groups, list) else {str(groups)}
    email = str(claims.get("email") or "").lower() if claims.get("email_verified") is True else ""
    matched = [r for r in parse_roles(settings.roles) if
               (r.kind == "group" and r.value in groups) or (r.kind == "email" and email and r.value == email)
               or (r.kind == "domain" and email and email.rsplit("@", 1)[-1] == r.value.lstrip("@"))]
    if not matched:
        return None
    top = max(matched, key=lambda r: RANK[r.role]).role
    programs = set().union(*(r.programs for r in matched if r.role == top))
    # an opaque, stable id: the audit trail and sessions never hold the subject or the address
    user_id = "oidc-" + contact_key_for(f"{claims.get('iss')}|{claims.get('sub')}", salt)[-16:]
    return Principal(user_id, top, programs, via="session")


class OidcClient:
    def __init__(self, settings: OidcSettings, redirect_uri: str) -> None:
        self.settings = settings
        self.issuer = (settings.issuer or "").rstrip("/")
        self.redirect_uri = redirect_uri
        self._meta: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    def _client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(client_id=self.settings.client_id,
                                 client_secret=secret(self.settings.client_secret),
                                 scope=self.settings.scopes, redirect_uri=self.redirect_uri,
                                 code_challenge_method="S256", timeout=self.settings.timeout_seconds,
                                 token_endpoint_auth_method="client_secret_basic"
                                 if secret(self.settings.client_secret) else "none")

    async def _get(self, url: str) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=self.settings.timeout_seconds) as http:
            try:
                resp = await http.get(url)
                resp.raise_for_status()
                body = resp.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise OidcError(f"the issuer did not answer {url.rsplit('/', 1)[-1]}") from exc
        if not isinstance(body, dict):
            raise OidcError("the issuer answered with something that is not a JSON object")
        return body

    async def metadata(self) -> dict[str, Any]:
        if self._meta is None:
            meta = await self._get(self.issuer + "/.well-known/openid-configuration")
            if str(meta.get("issuer", "")).rstrip("/") != self.issuer:
                raise OidcError("the discovery document names another issuer")
            self._meta = meta
        return self._meta

    async def keys(self, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            self._keys = KeySet.import_key_set(await self._get(str((await self.metadata())["jwks_uri"])))  # type: ignore[arg-type]
        return self._keys

    async def authorization_url(self) -> tuple[str, str, str, str]:
        """(URL to send the browser to, state, nonce, code verifier)."""
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        url, _ = self._client().create_authorization_url(
            str((await self.metadata())["authorization_endpoint"]), state=state, nonce=nonce, code_verifier=verifier)
        return url, state, nonce, verifier

    async def claims(self, code: str, nonce: str, verifier: str) -> dict[str, Any]:
        """Exchange the code (with the PKCE verifier) and return the verified ID token's claims."""
        try:
            token = await self._client().fetch_token(str((await self.metadata())["token_endpoint"]), code=code,
                                                     code_verifier=verifier)
        except Exception as exc:  # Authlib raises OAuthError for error answers, httpx errors for transport
            raise OidcError("the issuer refused the code") from exc
        id_token = token.get("id_token") if isinstance(token, dict) else None
        if not isinstance(id_token, str):
            raise OidcError("the token answer holds no id_token")
        try:
            try:
                decoded = jwt.decode(id_token, await self.keys(), algorithms=ALGORITHMS)
            except JoseError:  # a rotated key: fetch the set once more
                decoded = jwt.decode(id_token, await self.keys(refresh=True), algorithms=ALGORITHMS)
            jwt.JWTClaimsRegistry(
                leeway=60, iss={"essential": True, "value": str((await self.metadata())["issuer"])},
                sub={"essential": True},
                aud={"essential": True, "value": self.settings.client_id}, exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise OidcError(f"the id token is not valid ({type(exc).__name__})") from None
        return dict(decoded.claims)
