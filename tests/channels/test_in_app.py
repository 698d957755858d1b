"""In-app channels: Web Push (RFC 8030 + VAPID RFC 8292 through `pywebpush`) to a contact's stored, sealed
subscriptions, and signed webhooks (Standard Webhooks) to the business's own app, both sent by the same send
activity as SMS and email, so consent, windows and caps hold for them too. The fake push service checks VAPID and
keeps the encrypted body, which the test decrypts with the subscription's private key; the fake app verifies every
delivery with the `standardwebhooks` library."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import http_ece
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid02
from pydantic import SecretStr

from activities.messaging import MessagingActivities
from connectors.app_webhook.channel import AppWebhookChannel
from connectors.app_webhook.settings import AppWebhookSettings
from connectors.contract import MessageChannel, OutboundMessage, PermanentProviderError, RetryableProviderError
from connectors.local.consent import ConsentLedger
from connectors.local.db import LocalDb
from connectors.local.oauth_tokens import TokenCipher
from connectors.local.outbox import LocalOutbox
from connectors.local.push_subscriptions import PushSubscription, PushSubscriptions
from connectors.webpush.channel import WebPushChannel
from connectors.webpush.settings import WebPushSettings
from domain.case import SendRequest
from domain.ids import contact_key_for
from domain.models import Appointment, Channel
from policies.schema import Template
from tests.fakes.business_app_fake import BusinessAppFake
from tests.fakes.webpush_fake import WebPushFake
from tests.helpers import appointment, fast_policy, local_settings, resolved_of
from workers.providers.in_app import in_app_checks

SALT = "test-salt"
APP_SECRET = "whsec_" + base64.b64encode(b"business-app-secret-0123456789ab").decode()
CIPHER = TokenCipher([("k1", b"k" * 32)])
VAPID = Vapid02()
VAPID.generate_keys()
TEMPLATES = [
    Template(id="missed_first", channel=Channel.push, subject="We missed you", approved=True,
             approved_by="ops-lead@example.com", body="Hi {first_name}, we missed you today. Tap to pick a new time."),
    Template(id="missed_first", channel=Channel.app, approved=True, approved_by="ops-lead@example.com",
             body="Hi {first_name}, we missed you today. Want a new time?"),
]


class NoLedger:
    def append(self, _: object) -> bool:
        return True

    def append_many(self, events: object) -> int:
        return 0


class Browser:
    """A browser's push subscription: its ECDH key pair and auth secret (what PushManager.subscribe makes)."""

    def __init__(self, endpoint: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        point = self.key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        self.subscription = PushSubscription.model_validate({"endpoint": endpoint, "keys": {
            "p256dh": base64.urlsafe_b64encode(point).decode().rstrip("="),
            "auth": base64.urlsafe_b64encode(self.auth).decode().rstrip("=")}})

    def read(self, body: bytes) -> dict[str, str]:
        plain = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        return json.loads(plain)  # type: ignore[no-any-return]


@pytest.fixture
def push() -> Iterator[WebPushFake]:
    with WebPushFake() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def app() -> Iterator[BusinessAppFake]:
    with BusinessAppFake(APP_SECRET) as server:
        yield server  # type: ignore[misc]


def _engine(tmp_path: Path, push: WebPushFake, app: BusinessAppFake
            ) -> tuple[MessagingActivities, PushSubscriptions, LocalOutbox, ConsentLedger]:
    db = LocalDb(tmp_path / f"{uuid.uuid4().hex}.db")
    outbox, consent, subscriptions = LocalOutbox(db), ConsentLedger(db), PushSubscriptions(db, CIPHER)
    webpush = WebPushChannel(WebPushSettings(vapid_private_key=SecretStr(VAPID.private_pem().decode()),
                                             vapid_subject="mailto:ops@example.com", timeout_seconds=2),
                             subscriptions)
    business = AppWebhookChannel(AppWebhookSettings(url=app.url, secret=SecretStr(APP_SECRET), timeout_seconds=2))
    channels: dict[Channel, MessageChannel] = {Channel.sms: outbox, Channel.email: outbox, Channel.push: webpush,
                                               Channel.app: business}
    return MessagingActivities(channels, outbox, ConsentLedger(db), NoLedger(), salt=SALT), subscriptions, outbox, \
        consent


def _request(appt: Appointment, channels: list[Channel], step: str = "step0") -> SendRequest:
    policy = fast_policy()
    policy.templates.extend(TEMPLATES)
    case_id = f"case-{uuid.uuid4().hex[:24]}"
    return SendRequest(message_id=f"{case_id}-{step}", case_id=case_id,
                       contact_key=contact_key_for(appt.contact.contact_id, SALT), appointment=appt,
                       resolved=resolved_of(policy), template_id="missed_first", channels=channels,
                       first_message=True, created_at=datetime.now(UTC))


def _named(appt: Appointment) -> Appointment:
    named = appt.model_copy(deep=True)
    named.contact.name = "Pat Doe"
    return named


# ---------------------------------------------------------------- Web Push


def test_a_push_goes_to_each_subscription_encrypted_for_its_browser(tmp_path: Path, push: WebPushFake,
                                                                    app: BusinessAppFake) -> None:
    messaging, subscriptions, outbox, _ = _engine(tmp_path, push, app)
    appt = _named(appointment(email=None))
    req = _request(appt, [Channel.push, Channel.sms])
    phone, laptop = Browser(push.endpoint()), Browser(push.endpoint())
    subscriptions.add(req.contact_key, phone.subscription)
    subscriptions.add(req.contact_key, laptop.subscription)
    result = messaging.send_message(req)
    assert (result.status, result.channel) == ("sent", Channel.push)
    assert len(push.accepted) == 2
    for browser, request in zip((laptop, phone), push.accepted, strict=False):
        assert request.path == str(browser.subscription.endpoint).removeprefix(push.base_url)
        shown = browser.read(request.body)
        assert shown["title"] == "We missed you" and shown["body"].startswith("Hi Pat, we missed you today")
        assert shown["tag"] == req.message_id
        assert int(request.headers["ttl"]) > 0 and request.headers["urgency"] == "normal"
        assert len(request.headers["topic"]) <= 32
        assert request.headers["authorization"].startswith("vapid t=")
    assert [m["channel"] for m in outbox.messages()] == ["push"]


def test_a_gone_subscription_is_deleted_and_the_step_goes_by_sms(tmp_path: Path, push: WebPushFake,
                                                                 app: BusinessAppFake) -> None:
    messaging, subscriptions, _, _ = _engine(tmp_path, push, app)
    appt = appointment(email=None)
    req = _request(appt, [Channel.push, Channel.sms])
    push.gone.add("expired")
    subscriptions.add(req.contact_key, Browser(push.endpoint("expired")).subscription)
    result = messaging.send_message(req)
    assert (result.status, result.channel) == ("sent", Channel.sms)
    assert subscriptions.for_contact(req.contact_key) == []
    # with no subscription left, push is not even tried for the next step
    again = messaging.send_message(_request(appt, [Channel.push, Channel.sms], step="step1"))
    assert again.channel == Channel.sms and len(push.requests) == 1


def test_push_respects_consent_and_needs_a_subscription(tmp_path: Path, push: WebPushFake,
                                                        app: BusinessAppFake) -> None:
    messaging, subscriptions, _, consent = _engine(tmp_path, push, app)
    appt = appointment(email=None)
    req = _request(appt, [Channel.push])
    assert messaging.send_message(req).status == "blocked"  # no subscription
    subscriptions.add(req.contact_key, Browser(push.endpoint()).subscription)
    consent.opt_out("stop-push", req.contact_key, channel="push")
    out = messaging.send_message(_request(appt, [Channel.push], step="step1"))
    assert out.status == "blocked" and "opted out" in out.reason
    assert push.requests == []


def test_subscriptions_are_sealed_at_rest(tmp_path: Path, push: WebPushFake) -> None:
    db = LocalDb(tmp_path / "sealed.db")
    store = PushSubscriptions(db, CIPHER)
    browser = Browser(push.endpoint("secret-endpoint-id"))
    store.add("contact-key-1", browser.subscription)
    with db.connect() as conn:
        rows = [tuple(r) for r in conn.execute("SELECT * FROM push_subscriptions").fetchall()]
    dump = json.dumps(rows)
    assert "secret-endpoint-id" not in dump and browser.subscription.keys.auth not in dump
    assert store.for_contact("contact-key-1")[0][1] == browser.subscription


# ---------------------------------------------------------------- the business's app


def test_the_app_gets_one_signed_delivery_per_message(tmp_path: Path, push: WebPushFake,
                                                      app: BusinessAppFake) -> None:
    messaging, _, _, _ = _engine(tmp_path, push, app)
    appt = _named(appointment(email=None))
    req = _request(appt, [Channel.app, Channel.sms])
    app.fail_next(503)  # the app is briefly down: the channel tries again, same webhook-id
    result = messaging.send_message(req)
    assert (result.status, result.channel) == ("sent", Channel.app)
    assert [r.headers["webhook-id"] for r in app.requests] == [req.message_id, req.message_id]
    payload = app.applied[req.message_id]
    assert payload["type"] == "message.created"
    assert payload["data"]["contact_id"] == appt.contact.contact_id
    assert payload["data"]["body"].startswith("Hi Pat, we missed you today")
    assert app.refused == 0


def test_a_refusing_app_is_permanent_and_a_down_app_is_retryable(app: BusinessAppFake) -> None:
    channel = AppWebhookChannel(AppWebhookSettings(url=app.url, secret=SecretStr(APP_SECRET), attempts=2,
                                                   timeout_seconds=2))
    message = OutboundMessage(message_id="m-1", case_id="case-1", channel=Channel.app, to="c-1", body="Hi")
    app.fail_next(422, {"error": "unknown contact"})
    with pytest.raises(PermanentProviderError) as refused:
        channel.send(message)
    assert refused.value.code == "422"
    app.fail_next(503, times=2)
    with pytest.raises(RetryableProviderError):
        channel.send(message)
    wrong = AppWebhookChannel(AppWebhookSettings(
        url=app.url, secret=SecretStr("whsec_" + base64.b64encode(b"another-secret-0123456789abcdef").decode())))
    with pytest.raises(PermanentProviderError):
        wrong.send(message)  # the app refuses a forged signature with 401
    assert app.refused == 1 and "m-1" not in app.applied


def test_connectors_check_reports_the_in_app_channels(tmp_path: Path) -> None:
    settings = local_settings(tmp_path / "data")
    assert {c.name: c.status for c in in_app_checks(settings)} == {"webpush-send": "off", "app-webhook-send": "off"}
    settings.webpush = WebPushSettings(vapid_private_key=SecretStr(VAPID.private_pem().decode()))
    settings.app_webhook = AppWebhookSettings(url="https://app.example.com/hooks", secret=SecretStr("not-a-secret!"))
    found = {c.name: c for c in in_app_checks(settings)}
    assert found["webpush-send"].status == "error" and "NOSHOW_ENCRYPTION_KEY" in found["webpush-send"].detail
    assert found["app-webhook-send"].status == "error" and "not-a-secret" not in found["app-webhook-send"].detail
    settings.temporal = settings.temporal.model_copy(update={"encryption_key": SecretStr("k1:" + base64.b64encode(
        b"e" * 32).decode())})
    settings.app_webhook = AppWebhookSettings(url="https://app.example.com/hooks", secret=SecretStr(APP_SECRET))
    assert {c.name: c.status for c in in_app_checks(settings)} == {"webpush-send": "ok", "app-webhook-send": "ok"}
