"""The live probes of the in-app channels (`noshow connectors check --live`) never reach a person: the app webhook
gets one signed `noshow.probe` delivery, verified by the fake app with the `standardwebhooks` library and never
applied as a message; Web Push signs a VAPID claim locally and checks that every stored subscription still opens
under the current encryption key."""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid02
from pydantic import SecretStr

from connectors.app_webhook.settings import AppWebhookSettings
from connectors.local.db import LocalDb
from connectors.local.push_subscriptions import PushKeys, PushSubscription
from connectors.webpush.settings import WebPushSettings
from tests.fakes.business_app_fake import BusinessAppFake
from tests.helpers import local_settings
from workers.providers.checks import ProbeProblem
from workers.providers.in_app import app_webhook_probe, push_subscriptions, webpush_probe
from workers.settings import Settings

APP_SECRET = "whsec_" + base64.b64encode(b"business-app-secret-0123456789ab").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"another-secret-0123456789abcdef").decode()
VAPID = Vapid02()
VAPID.generate_keys()


def _key(fill: bytes) -> SecretStr:
    return SecretStr("k1:" + base64.b64encode(fill * 32).decode())


@pytest.fixture
def app() -> Iterator[BusinessAppFake]:
    fake = BusinessAppFake(APP_SECRET)
    fake.start()
    yield fake
    fake.stop()


def _with_app(tmp_path: Path, url: str, app_secret: str = APP_SECRET) -> Settings:
    settings = local_settings(tmp_path / "data")
    settings.app_webhook = AppWebhookSettings(url=url, secret=SecretStr(app_secret))
    return settings


def test_the_app_webhook_probe_is_verified_and_never_applied(tmp_path: Path, app: BusinessAppFake) -> None:
    assert app_webhook_probe(_with_app(tmp_path, app.url)) == "signed probe accepted (HTTP 204)"
    assert app.probes == 1 and app.applied == {} and app.refused == 0


def test_a_secret_the_app_does_not_share_is_named_without_its_value(tmp_path: Path, app: BusinessAppFake) -> None:
    with pytest.raises(ProbeProblem, match="APP_WEBHOOK_SECRET differs") as found:
        app_webhook_probe(_with_app(tmp_path, app.url, OTHER_SECRET))
    assert app.refused == 1 and app.probes == 0
    assert OTHER_SECRET not in str(found.value) and OTHER_SECRET[6:] not in str(found.value)


def test_a_wrong_path_and_a_closed_port_are_told_apart(tmp_path: Path, app: BusinessAppFake) -> None:
    with pytest.raises(ProbeProblem, match="nothing takes deliveries at APP_WEBHOOK_URL"):
        app_webhook_probe(_with_app(tmp_path, f"{app.base_url}/elsewhere"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with pytest.raises(ProbeProblem, match="APP_WEBHOOK_URL unreachable: ConnectError"):
        app_webhook_probe(_with_app(tmp_path, f"http://127.0.0.1:{closed}/hooks"))


def _with_push(tmp_path: Path, key: SecretStr | None) -> Settings:
    settings = local_settings(tmp_path / "data")
    settings.webpush = WebPushSettings(vapid_private_key=SecretStr(VAPID.private_pem().decode()))
    settings.temporal = settings.temporal.model_copy(update={"encryption_key": key})
    return settings


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _browser_keys() -> PushKeys:
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(Encoding.X962,
                                                                              PublicFormat.UncompressedPoint)
    return PushKeys(p256dh=_b64(point), auth=_b64(os.urandom(16)))


def _subscribe(settings: Settings, n: int) -> None:
    store = push_subscriptions(settings, LocalDb(settings.storage.database))
    assert store is not None
    for i in range(n):
        store.add(f"contact-{i}", PushSubscription(endpoint=f"https://push.example/send/{i}",
                                                   keys=_browser_keys()))


def test_the_push_probe_signs_locally_and_counts_readable_subscriptions(tmp_path: Path) -> None:
    settings = _with_push(tmp_path, _key(b"a"))
    _subscribe(settings, 2)
    assert webpush_probe(settings) == "VAPID key signs; 2 subscriptions readable"


def test_a_rotated_key_that_dropped_the_old_one_is_caught(tmp_path: Path) -> None:
    _subscribe(_with_push(tmp_path, _key(b"a")), 2)
    with pytest.raises(ProbeProblem, match="2 of 2 push subscriptions do not open under NOSHOW_ENCRYPTION_KEY"):
        webpush_probe(_with_push(tmp_path, _key(b"b")))
    with pytest.raises(ProbeProblem, match="needs NOSHOW_ENCRYPTION_KEY"):
        webpush_probe(_with_push(tmp_path, None))
