"""SendGrid: Mail Send through the real SDK against the fake, the signed Event Webhook (ECDSA P-256 key pair
generated here) and Inbound Parse replies protected by a URL token / basic auth."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr

from connectors.contract import (
    AmbiguousSendError,
    MessageChannel,
    OutboundMessage,
    PermanentProviderError,
    RawRequest,
    RetryableProviderError,
    SignatureError,
)
from connectors.sendgrid.channel import SendGridChannel
from connectors.sendgrid.events import SendGridEventWebhook, consent_effect
from connectors.sendgrid.parse import SendGridInboundParse
from connectors.sendgrid.settings import SendGridSettings
from domain.models import Channel
from tests.fakes.sendgrid_fake import API_KEY, SendGridFake

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TS = str(int(NOW.timestamp()))

# ---------------------------------------------------------------- Mail Send


@pytest.fixture
def fake() -> Iterator[SendGridFake]:
    with SendGridFake() as server:
        yield server  # type: ignore[misc]


def _channel(fake: SendGridFake, **overrides: object) -> SendGridChannel:
    settings = SendGridSettings(api_key=SecretStr(API_KEY), from_email="bookings@example.com", from_name="Clinic",
                                reply_to="replies@parse.example.com", api_host=fake.base_url, asm_group_id=12345,
                                timeout_seconds=0.5, **overrides)  # type: ignore[arg-type]
    return SendGridChannel(settings)


def _message(message_id: str = "case-7:offer", to: str = "jane@example.com") -> OutboundMessage:
    return OutboundMessage(message_id=message_id, case_id="case-7", channel=Channel.email, to=to,
                           subject="We missed you", body="Pick a new time: https://noshow.example.com/r/abc")


def test_send_carries_custom_args_and_returns_the_first_receipt_on_retry(fake: SendGridFake) -> None:
    channel = _channel(fake)
    assert isinstance(channel, MessageChannel)
    receipt = channel.send(_message())
    [mail] = fake.mails
    [personalization] = mail["personalizations"]
    assert personalization["custom_args"] == {"case_id": "case-7", "message_id": "case-7:offer"}
    assert personalization["to"] == [{"email": "jane@example.com"}]
    assert mail["from"] == {"email": "bookings@example.com", "name": "Clinic"}
    assert mail["reply_to"] == {"email": "replies@parse.example.com"}
    assert mail["asm"] == {"group_id": 12345}
    assert mail["content"][0]["type"] == "text/plain"
    assert receipt.provider_message_id == fake.message_ids[0] and not receipt.duplicate
    again = channel.send(_message())
    assert again.duplicate and again.provider_message_id == receipt.provider_message_id
    assert len(fake.mails) == 1


def test_dynamic_template(fake: SendGridFake) -> None:
    message = _message().model_copy(update={"template_id": "d-0123456789abcdef0123456789abcdef"})
    _channel(fake).send(message)
    [mail] = fake.mails
    assert mail["template_id"] == "d-0123456789abcdef0123456789abcdef"
    assert "content" not in mail
    assert mail["personalizations"][0]["dynamic_template_data"]["subject"] == "We missed you"


def test_429_is_retryable_with_retry_after(fake: SendGridFake) -> None:
    channel = _channel(fake)
    fake.rate_limit_next("7")
    with pytest.raises(RetryableProviderError) as info:
        channel.send(_message())
    assert info.value.retry_after == 7
    channel.send(_message())
    assert len(fake.mails) == 1


def test_500_is_retryable(fake: SendGridFake) -> None:
    channel = _channel(fake)
    fake.server_error_next()
    with pytest.raises(RetryableProviderError):
        channel.send(_message())
    channel.send(_message())
    assert len(fake.mails) == 1


def test_invalid_address_is_permanent_and_names_the_field(fake: SendGridFake) -> None:
    with pytest.raises(PermanentProviderError) as info:
        _channel(fake).send(_message(to="not-an-address"))
    assert info.value.code == "personalizations.0.to.0.email"
    assert "not-an-address" not in str(info.value)
    assert fake.mails == []


def test_bad_key_is_permanent(fake: SendGridFake) -> None:
    settings = SendGridSettings(api_key=SecretStr("SG.wrong"), from_email="b@example.com", api_host=fake.base_url)
    with pytest.raises(PermanentProviderError) as info:
        SendGridChannel(settings).send(_message())
    assert info.value.code == "401"


def test_wrong_channel_is_permanent(fake: SendGridFake) -> None:
    with pytest.raises(PermanentProviderError):
        _channel(fake).send(_message().model_copy(update={"channel": Channel.sms}))


def test_ambiguous_failure_never_sends_twice(fake: SendGridFake) -> None:
    channel = _channel(fake)
    fake.accept_then_reset_next()
    with pytest.raises(AmbiguousSendError):
        channel.send(_message())
    with pytest.raises(PermanentProviderError) as info:
        channel.send(_message())  # no lookup exists: a person decides
    assert info.value.code == "ambiguous_send"
    assert len(fake.mails) == 1


def test_ambiguous_failure_can_be_configured_to_resend(fake: SendGridFake) -> None:
    channel = _channel(fake, resend_after_ambiguous=True)
    fake.hang_next()  # not processed by the fake
    with pytest.raises(AmbiguousSendError):
        channel.send(_message())
    channel.send(_message())
    assert len(fake.mails) == 1


def test_connection_refused_is_retryable() -> None:
    with SendGridFake() as server:
        url = server.base_url
    settings = SendGridSettings(api_key=SecretStr(API_KEY), from_email="b@example.com", api_host=url,
                                timeout_seconds=0.5)
    with pytest.raises(RetryableProviderError):
        SendGridChannel(settings).send(_message())


# ---------------------------------------------------------------- Event Webhook

PRIVATE_KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC_KEY_B64 = base64.b64encode(PRIVATE_KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()

EVENTS = [
    {"email": "jane@example.com", "timestamp": 1767603700, "event": "delivered", "sg_event_id": "ev-1",
     "sg_message_id": "abc123.filter0001.16648.5515E0B88.0", "case_id": "case-7", "message_id": "case-7:offer"},
    {"email": "jane@example.com", "timestamp": 1767603710, "event": "bounce", "type": "bounce",
     "reason": "550 5.1.1 mailbox unavailable", "sg_event_id": "ev-2", "sg_message_id": "abc123.filter1",
     "case_id": "case-7", "message_id": "case-7:offer"},
    {"email": "jane@example.com", "timestamp": 1767603720, "event": "dropped", "reason": "Unsubscribed Address",
     "sg_event_id": "ev-3", "case_id": "case-8", "message_id": "case-8:offer"},
    {"email": "jane@example.com", "timestamp": 1767603730, "event": "spamreport", "sg_event_id": "ev-4",
     "case_id": "case-7", "message_id": "case-7:offer"},
    {"email": "jane@example.com", "timestamp": 1767603740, "event": "unsubscribe", "sg_event_id": "ev-5",
     "case_id": "case-7", "message_id": "case-7:offer"},
    {"email": "jane@example.com", "timestamp": 1767603750, "event": "group_unsubscribe", "asm_group_id": 12345,
     "sg_event_id": "ev-6", "case_id": "case-7", "message_id": "case-7:offer"},
    {"email": "jane@example.com", "timestamp": 1767603760, "event": "click",
     "url": "https://book.example.com/slot?email=jane%40example.com", "url_offset": {"index": 0, "type": "html"},
     "sg_event_id": "ev-7", "sg_message_id": "abc123.filter0001.16648.5515E0B88.0", "case_id": "case-7",
     "message_id": "case-7:offer"},
    {"email": "jane@example.com", "timestamp": 1767603765, "event": "open", "sg_machine_open": False,
     "useragent": "Mozilla/5.0", "ip": "192.0.2.1", "sg_event_id": "ev-10", "case_id": "case-7",
     "message_id": "case-7:offer"},
    {"email": "jane@example.com", "timestamp": 1767603770, "event": "bounce", "type": "blocked",
     "sg_event_id": "ev-8", "case_id": "case-9"},
    {"email": "jane@example.com", "timestamp": 1767603780, "event": "brand_new", "sg_event_id": "ev-9"},
    {"email": "jane@example.com", "timestamp": 1767603700, "event": "delivered", "sg_event_id": "ev-1",
     "case_id": "case-7", "message_id": "case-7:offer"},
]


def _sign(body: bytes, timestamp: str = TS, key: ec.EllipticCurvePrivateKey = PRIVATE_KEY) -> str:
    return base64.b64encode(key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()


def _event_request(body: bytes, signature: str | None = None, timestamp: str = TS) -> RawRequest:
    headers = {"content-type": "application/json",
               "x-twilio-email-event-webhook-signature": signature if signature is not None else _sign(body, timestamp),
               "x-twilio-email-event-webhook-timestamp": timestamp}
    return RawRequest(method="POST", url="https://noshow.example.com/webhooks/sendgrid", headers=headers, body=body)


def _events_hook() -> SendGridEventWebhook:
    return SendGridEventWebhook(SendGridSettings(event_verification_key=SecretStr(PUBLIC_KEY_B64)))


def test_signed_events_map_to_statuses_with_case_ids_and_consent_effects() -> None:
    body = json.dumps(EVENTS).encode()
    hook = _events_hook()
    request = _event_request(body)
    hook.verify(request, NOW)
    result = hook.parse(request)
    by_status = [(s.status, s.case_id, s.message_id, s.error_code, consent_effect(s)) for s in result.statuses]
    assert by_status == [
        ("delivered", "case-7", "case-7:offer", None, None),
        ("bounced", "case-7", "case-7:offer", "bounce:bounce", "suppress"),
        ("dropped", "case-8", "case-8:offer", "dropped:unsubscribed_address", "revoke"),
        ("spam", "case-7", "case-7:offer", "spamreport", "revoke"),
        ("unsubscribed", "case-7", "case-7:offer", "unsubscribe", "revoke"),
        ("unsubscribed", "case-7", "case-7:offer", "group_unsubscribe:12345", "revoke"),
        ("clicked", "case-7", "case-7:offer", None, None),
        ("opened", "case-7", "case-7:offer", None, None),
        ("bounced", "case-9", None, "bounce:blocked", None),
    ]  # the repeated ev-1 dropped
    # the clicked link (whose query names the recipient) is nowhere in what the engine keeps of the click
    assert "book.example.com" not in result.statuses[6].model_dump_json()
    assert result.statuses[0].provider_message_id == "abc123"
    assert result.statuses[0].recipient == "jane@example.com"
    assert result.statuses[0].at == datetime.fromtimestamp(1767603700, UTC)
    assert result.unknown_types == ["sendgrid:brand_new"]
    assert result.dedupe_key and result.dedupe_key.startswith("sendgrid:")
    assert SendGridEventWebhook.event_ids(request)[:2] == ["sendgrid:ev-1", "sendgrid:ev-2"]
    # the same events re-serialised (a redelivery) keep the dedupe key
    reformatted = _event_request(json.dumps(EVENTS, indent=1).encode())
    assert hook.dedupe_key(reformatted) == result.dedupe_key


@pytest.mark.parametrize("case", ["forged", "other_key", "truncated", "tampered", "stale", "future", "missing",
                                  "garbage"])
def test_bad_event_signatures_are_rejected(case: str) -> None:
    body = json.dumps(EVENTS[:1]).encode()
    request = _event_request(body)
    if case == "forged":
        request = _event_request(body, signature=base64.b64encode(b"\x30" * 70).decode())
    elif case == "other_key":
        request = _event_request(body, signature=_sign(body, key=ec.generate_private_key(ec.SECP256R1())))
    elif case == "truncated":
        request = _event_request(body, signature=_sign(body)[:-8])
    elif case == "tampered":
        request = RawRequest(**{**request.model_dump(), "body": body.replace(b"delivered", b"bounce")})
    elif case == "stale":
        old = str(int(NOW.timestamp()) - 3600)
        request = _event_request(body, timestamp=old)
    elif case == "future":
        ahead = str(int(NOW.timestamp()) + 3600)
        request = _event_request(body, timestamp=ahead)
    elif case == "missing":
        request = RawRequest(method="POST", url=request.url, headers={}, body=body)
    elif case == "garbage":
        request = _event_request(body, signature="%%%not base64%%%")
    with pytest.raises(SignatureError):
        _events_hook().verify(request, NOW)


def test_replayed_event_batch_is_rejected() -> None:
    hook = _events_hook()
    request = _event_request(json.dumps(EVENTS[:2]).encode())
    hook.verify(request, NOW)
    with pytest.raises(SignatureError):
        hook.verify(request, NOW + timedelta(seconds=30))


def test_event_webhook_needs_a_valid_key() -> None:
    with pytest.raises(ValueError):
        SendGridEventWebhook(SendGridSettings())
    with pytest.raises(ValueError):
        SendGridEventWebhook(SendGridSettings(event_verification_key=SecretStr("bm90IGEga2V5")))


# ---------------------------------------------------------------- Inbound Parse

BOUNDARY = "xYzZY"


def _multipart(fields: dict[str, str]) -> bytes:
    parts = []
    for name, value in fields.items():
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n')
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="attachment1"; filename="a.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nignored\r\n"
    )
    return ("".join(parts) + f"--{BOUNDARY}--\r\n").encode()


REPLY_FIELDS = {
    "headers": "Message-ID: <CAF=abc123@mail.example.com>\nFrom: Jane <Jane@Example.com>\nSubject: Re: We missed you",
    "from": "Jane <Jane@Example.com>",
    "to": "replies@parse.example.com",
    "subject": "Re: We missed you",
    "text": "Tuesday at 3 works for me.\n\nOn Mon, Jan 5, 2026 at 9:00 AM Clinic <bookings@example.com> wrote:\n> Pick",
    "envelope": json.dumps({"to": ["replies@parse.example.com"], "from": "jane@example.com"}),
    "attachments": "1",
}


def _parse_request(url: str, fields: dict[str, str] = REPLY_FIELDS, auth: str | None = None) -> RawRequest:
    headers = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    if auth:
        headers["authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    query = dict(pair.split("=", 1) for pair in url.split("?", 1)[1].split("&")) if "?" in url else {}
    return RawRequest(method="POST", url=url, headers=headers, query=query, body=_multipart(fields))


def test_inbound_parse_with_url_token() -> None:
    hook = SendGridInboundParse(SendGridSettings(parse_token=SecretStr("s3cret-token")))
    request = _parse_request("https://noshow.example.com/webhooks/sendgrid_parse?token=s3cret-token")
    hook.verify(request, NOW)
    result = hook.parse(request)
    [message] = result.messages
    assert message.channel == Channel.email
    assert (message.sender, message.recipient) == ("jane@example.com", "replies@parse.example.com")
    assert message.text == "Tuesday at 3 works for me."
    assert message.provider_message_id == "CAF=abc123@mail.example.com"
    assert result.dedupe_key == "sendgrid_parse:CAF=abc123@mail.example.com"
    with pytest.raises(SignatureError):
        hook.verify(request, NOW)  # the same email again: SendGrid retries are deduped, replays refused


@pytest.mark.parametrize("url", ["https://noshow.example.com/webhooks/sendgrid_parse?token=wrong",
                                 "https://noshow.example.com/webhooks/sendgrid_parse",
                                 "https://noshow.example.com/webhooks/sendgrid_parse?token=s3cret-toke"])
def test_inbound_parse_rejects_a_bad_token(url: str) -> None:
    hook = SendGridInboundParse(SendGridSettings(parse_token=SecretStr("s3cret-token")))
    with pytest.raises(SignatureError):
        hook.verify(_parse_request(url), NOW)


def test_inbound_parse_with_basic_auth() -> None:
    hook = SendGridInboundParse(SendGridSettings(parse_basic_auth=SecretStr("parse:pa55")))
    url = "https://noshow.example.com/webhooks/sendgrid_parse"
    hook.verify(_parse_request(url, auth="parse:pa55"), NOW)
    for auth in (None, "parse:wrong", "parse"):
        with pytest.raises(SignatureError):
            hook.verify(_parse_request(url, auth=auth), NOW)


def test_inbound_parse_requires_protection() -> None:
    with pytest.raises(ValueError):
        SendGridInboundParse(SendGridSettings())
