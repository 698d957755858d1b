"""The OAuth token manager against a fake token endpoint: refreshed before expiry, stored sealed in the local
database, refreshed once across replicas (a rotated refresh token is kept), refused grants are permanent, and the
Google and Graph clients send the refreshed token instead of a static one."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from connectors.contract import PermanentProviderError, RetryableProviderError
from connectors.google.client import GoogleCalendarClient
from connectors.local.db import LocalDb
from connectors.local.oauth_tokens import SqlTokenStore, TokenCipher
from connectors.oauth import ClientCredentialsGrant, JwtBearerGrant, RefreshTokenGrant, TokenManager
from connectors.outlook.client import OutlookClient
from tests.fakes.oauth_fake import FakeTokenEndpoint
from tests.fakes.providers import FakeGoogleCalendar, FakeGraph


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 6, 15, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _store(tmp: Path) -> SqlTokenStore:
    key = base64.b64encode(os.urandom(32)).decode()
    return SqlTokenStore(LocalDb(tmp / "local.db"), TokenCipher.from_setting(f"k1:{key}"))


def _manager(fake: FakeTokenEndpoint, store: SqlTokenStore, clock: Clock, seed: str = "seed-refresh"
             ) -> TokenManager:
    return TokenManager("google", "client-1", fake.base_url + "/token", RefreshTokenGrant("client-1", "sec", seed),
                        store, clock=clock)


def test_tokens_are_refreshed_before_expiry_and_stored_sealed(tmp_path: Path) -> None:
    clock = Clock()
    with FakeTokenEndpoint() as fake:
        manager = _manager(fake, _store(tmp_path), clock)
        assert manager() == "access-1"
        assert manager() == "access-1"  # cached while valid
        clock.now += timedelta(minutes=54)
        assert manager() == "access-1"
        clock.now += timedelta(minutes=2)  # inside the 5-minute margin before the hour is up
        assert manager() == "access-2"
        assert len(fake.calls("POST", "/token")) == 2
        assert fake.calls("POST", "/token")[0].form()["grant_type"] == "refresh_token"
    dump = "\n".join(sqlite3.connect(tmp_path / "local.db").iterdump())
    assert "access-2" not in dump and "seed-refresh" not in dump and "oauth_tokens" in dump


def test_replicas_refresh_once_and_keep_the_rotated_refresh_token(tmp_path: Path) -> None:
    clock = Clock()
    store = _store(tmp_path)
    with FakeTokenEndpoint(rotate=True) as fake:
        replicas = [_manager(fake, SqlTokenStore(store.db, store.cipher), clock) for _ in range(4)]
        results: list[str] = []
        threads = [threading.Thread(target=lambda m=m: results.append(m())) for m in replicas]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == ["access-1"] * 4
        assert len(fake.calls("POST", "/token")) == 1
        clock.now += timedelta(hours=1)
        # the seed was revoked by the rotation: only the stored refresh token still works
        assert replicas[2]() == "access-2"
        assert fake.calls("POST", "/token")[-1].form()["refresh_token"] == "refresh-1"
        assert replicas[0]() == "access-2"


def test_refused_grants_are_permanent_and_endpoint_failures_retryable(tmp_path: Path) -> None:
    with FakeTokenEndpoint() as fake:
        with pytest.raises(PermanentProviderError) as info:
            _manager(fake, _store(tmp_path), Clock(), seed="revoked")()
        assert info.value.code == "invalid_grant" and not isinstance(info.value, RetryableProviderError)
        fake.fail_next(503, {"error": "temporarily_unavailable"})
        with pytest.raises(RetryableProviderError):
            _manager(fake, _store(tmp_path / "b"), Clock())()
        cc = TokenManager("outlook", "app", fake.base_url + "/token",
                          ClientCredentialsGrant("app", "s3cret", "https://graph.microsoft.com/.default"),
                          _store(tmp_path / "c"), clock=Clock())
        assert cc() == "access-1"
        assert fake.calls("POST", "/token")[-1].form()["scope"] == "https://graph.microsoft.com/.default"


def test_jwt_bearer_assertion_is_rs256_signed_with_the_documented_claims(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    clock = Clock()
    with FakeTokenEndpoint() as fake:
        manager = TokenManager("salesforce", "3MVG9consumer", fake.base_url + "/token",
                               JwtBearerGrant("3MVG9consumer", "integration@example.com", "https://login.salesforce.com",
                                              pem), _store(tmp_path), clock=clock)
        token = manager.token()
        assert token.instance_url == "https://example.my.salesforce.com"
        assertion = fake.calls("POST", "/token")[0].form()["assertion"]
    head, claims, sig = assertion.split(".")

    def unb64(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    assert json.loads(unb64(head))["alg"] == "RS256"
    body = json.loads(unb64(claims))
    assert (body["iss"], body["sub"], body["aud"]) == ("3MVG9consumer", "integration@example.com",
                                                      "https://login.salesforce.com")
    assert body["exp"] == int((clock.now + timedelta(minutes=3)).timestamp())
    key.public_key().verify(unb64(sig), f"{head}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())


def test_google_and_graph_clients_send_the_refreshed_token(tmp_path: Path) -> None:
    clock = Clock()
    with FakeTokenEndpoint() as tokens, FakeGoogleCalendar() as google, FakeGraph() as graph:
        manager = _manager(tokens, _store(tmp_path), clock)
        cal = GoogleCalendarClient(manager, base_url=google.base_url + "/calendar/v3")
        cal.free_busy(["primary"], clock.now, clock.now + timedelta(hours=1))
        clock.now += timedelta(hours=2)
        cal.free_busy(["primary"], clock.now, clock.now + timedelta(hours=1))
        sent = [r.headers["authorization"] for r in google.calls("POST", "/freeBusy")]
        assert sent == ["Bearer access-1", "Bearer access-2"]
        outlook = OutlookClient(manager, base_url=graph.base_url + "/v1.0")
        outlook.calendar_view("ops@example.org", clock.now, clock.now + timedelta(hours=1))
        assert graph.calls("GET", "/calendarView")[-1].headers["authorization"] == "Bearer access-2"


def test_settings_choose_the_token_manager_over_a_static_token(tmp_path: Path) -> None:
    from tests.helpers import settings_from
    from workers.providers.tokens import google_token, graph_token

    key = base64.b64encode(os.urandom(32)).decode()
    s = settings_from({"google_access_token": "static", "google_client_id": "cid", "google_client_secret": "cs",
                       "google_refresh_token": "rt", "graph_client_id": "app", "graph_client_secret": "as",
                       "graph_tenant": "contoso.onmicrosoft.com", "NOSHOW_ENCRYPTION_KEY": f"k1:{key}",
                       "data_dir": str(tmp_path)})
    google = google_token(s)
    assert isinstance(google, TokenManager) and isinstance(google.grant, RefreshTokenGrant)
    assert isinstance(google.store, SqlTokenStore)
    graph = graph_token(s)
    assert isinstance(graph, TokenManager) and isinstance(graph.grant, ClientCredentialsGrant)
    assert graph.token_url == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert google_token(settings_from({"google_access_token": "static"})) == "static"
