"""OpenID Connect sign-in against a local issuer (tests/fakes/oidc_issuer.py) over real HTTP: code + PKCE, the
ID token verified against the issuer's JWKS, claims mapped to a role and programs by the settings, and every
tampered token, replayed state or unmapped person refused and audited."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from tests.auth.conftest import auth_settings
from tests.fakes.oidc_issuer import FakeIssuer
from workers.api.auth.settings import OidcSettings

ROLES = "group:noshow-admins=admin,group:front-desk=reviewer:default,domain:clinic.example=owner:default|dental"


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    with FakeIssuer() as fake:
        yield fake


def oidc_app(make_app: Callable[..., Any], tmp_path: Path, issuer: FakeIssuer) -> tuple[Any, httpx.AsyncClient]:
    settings = auth_settings(tmp_path, oidc=OidcSettings(issuer=issuer.url, client_id=issuer.client_id,
                                                         client_secret=SecretStr(issuer.client_secret), roles=ROLES))
    return make_app(settings)  # type: ignore[no-any-return]


async def sign_in(http: httpx.AsyncClient, issuer: FakeIssuer, claims: dict[str, Any]) -> httpx.Response:
    issuer.next_claims = claims
    start = await http.get("/login/oidc", params={"next": "/reviews"})
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    async with httpx.AsyncClient() as browser:  # the browser at the issuer
        back = await browser.get(authorize)
    assert back.status_code == 302, back.text
    callback = urlsplit(back.headers["location"])
    return await http.get(f"{callback.path}?{callback.query}")


def signins(app: Any) -> list[tuple[str, str]]:
    return [(str(r["actor"]), str(r["action"])) for r in app.state.noshow.deps.reviews.audit_log()
            if str(r["action"]).startswith("signin")]


async def test_group_claim_signs_in_a_scoped_reviewer(make_app: Callable[..., Any], tmp_path: Path,
                                                      issuer: FakeIssuer) -> None:
    app, http = oidc_app(make_app, tmp_path, issuer)
    done = await sign_in(http, issuer, {"groups": ["front-desk"], "email": "fay.canary@clinic.example"})
    assert done.status_code == 303 and done.headers["location"] == "/reviews", done.text
    # past the gate: the queue needs Temporal, which this app has none of (503), but never 401/403
    assert (await http.get("/reviews")).status_code == 503
    assert (await http.get("/dashboard")).status_code == 403  # a reviewer: no figures
    (actor, action), = signins(app)
    assert action == "signin.ok" and actor.startswith("oidc-") and "canary" not in actor
    assert issuer.requests.count("token") == 1


async def test_verified_email_domain_maps_to_owner_and_unverified_does_not(make_app: Callable[..., Any],
                                                                            tmp_path: Path,
                                                                            issuer: FakeIssuer) -> None:
    app, http = oidc_app(make_app, tmp_path, issuer)
    refused = await sign_in(http, issuer, {"email": "gil@clinic.example", "email_verified": False})
    assert refused.status_code == 403
    ok = await sign_in(http, issuer, {"email": "gil@clinic.example", "email_verified": True})
    assert ok.status_code == 303
    assert (await http.get("/dashboard")).status_code == 200
    assert [a for _, a in signins(app)] == ["signin.failed", "signin.ok"]


@pytest.mark.parametrize("tamper", ["nonce", "aud", "iss", "expired", "foreign_key", "alg_none"])
async def test_a_tampered_id_token_is_refused(make_app: Callable[..., Any], tmp_path: Path, issuer: FakeIssuer,
                                              tamper: str) -> None:
    app, http = oidc_app(make_app, tmp_path, issuer)
    issuer.tamper = tamper
    r = await sign_in(http, issuer, {"groups": ["noshow-admins"]})
    assert r.status_code == 401, (tamper, r.status_code)
    assert "noshow_session" not in http.cookies
    assert signins(app) == [("anonymous", "signin.failed")]


async def test_a_callback_without_the_browser_state_or_replayed_is_refused(make_app: Callable[..., Any],
                                                                          tmp_path: Path,
                                                                          issuer: FakeIssuer) -> None:
    _, http = oidc_app(make_app, tmp_path, issuer)
    issuer.next_claims = {"groups": ["noshow-admins"]}
    start = await http.get("/login/oidc")
    async with httpx.AsyncClient() as browser:
        back = await browser.get(start.headers["location"])
    callback = urlsplit(back.headers["location"])
    # an attacker's browser (no state cookie) presenting the victim's code: login CSRF
    _, other = oidc_app(make_app, tmp_path, issuer)
    assert (await other.get(f"{callback.path}?{callback.query}")).status_code == 400
    assert (await http.get(f"{callback.path}?{callback.query}")).status_code == 303
    assert (await http.get(f"{callback.path}?{callback.query}")).status_code == 400  # the state is used up
