"""Twilio: X-Twilio-Signature (known-good vector, forged / truncated / tampered / replayed), inbound messages and
status callbacks, and outbound sends through the real SDK against the fake Messages API."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from connectors.contract import (
    AmbiguousSendError,
    MessageChannel,
    OutboundMessage,
    PermanentProviderError,
    RawRequest,
    RetryableProviderError,
    SignatureError,
)
from connectors.inbound import PayloadError
from connectors.twilio.channel import TwilioChannel
from connectors.twilio.sendlog import SqliteSendLog
from connectors.twilio.settings import TwilioSettings
from connectors.twilio.webhook import TwilioWebhook
from domain.models import Channel
from tests.fakes.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TwilioFake

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

# a known-good vector, computed once with Twilio's documented algorithm
# (https://www.twilio.com/docs/usage/webhooks/webhooks-security)
VECTOR_TOKEN = "twilio_auth_token"
VECTOR_URL = "https://example.com/twilio/sms"
VECTOR_PARAMS = {"From": "+15551234567", "To": "+15557654321", "Body": "STOP", "MessageSid": "SM123",
                 "AccountSid": "AC123", "OptOutType": "STOP"}
VECTOR_SIGNATURE = "jQ9jG9PVDPX2ezRoc4eg1En22HU="


def _webhook(**overrides: object) -> TwilioWebhook:
    return TwilioWebhook(TwilioSettings(auth_token=SecretStr(VECTOR_TOKEN), **overrides))  # type: ignore[arg-type]


def _request(params: dict[str, str], signature: str | None, url: str = VECTOR_URL,
             extra_headers: dict[str, str] | None = None) -> RawRequest:
    headers = {"content-type": "application/x-www-form-urlencoded", **(extra_headers or {})}
    if signature is not None:
        headers["x-twilio-signature"] = signature
    return RawRequest(method="POST", url=url, headers=headers, body=urlencode(params).encode())


def _signed(params: dict[str, str], url: str = VECTOR_URL, token: str = VECTOR_TOKEN) -> RawRequest:
    return _request(params, RequestValidator(token).compute_signature(url, params), url)


# ---------------------------------------------------------------- signatures


def test_known_good_vector_is_accepted_and_parsed() -> None:
    assert RequestValidator(VECTOR_TOKEN).compute_signature(VECTOR_URL, VECTOR_PARAMS) == VECTOR_SIGNATURE
    hook = _webhook()
    request = _request(VECTOR_PARAMS, VECTOR_SIGNATURE)
    hook.verify(request, NOW)
    result = hook.parse(request)
    assert result.dedupe_key == "twilio:SM123"
    [message] = result.messages
    assert (message.provider_message_id, message.channel, message.sender, message.recipient) == (
        "SM123", Channel.sms, "+15551234567", "+15557654321")
    assert message.text == "STOP"
    assert message.opt_out_type == "STOP"
    assert result.response == "<Response/>"


@pytest.mark.parametrize("case", ["forged", "truncated", "tampered_body", "other_url", "missing", "wrong_token"])
def test_bad_signatures_are_rejected(case: str) -> None:
    params = dict(VECTOR_PARAMS)
    signature: str | None = VECTOR_SIGNATURE
    url = VECTOR_URL
    if case == "forged":
        signature = "A" * len(VECTOR_SIGNATURE)
    elif case == "truncated":
        signature = VECTOR_SIGNATURE[:-3]
    elif case == "tampered_body":
        params["Body"] = "YES"
    elif case == "other_url":
        url = "https://example.com/twilio/other"
    elif case == "missing":
        signature = None
    elif case == "wrong_token":
        signature = RequestValidator("another_token").compute_signature(VECTOR_URL, VECTOR_PARAMS)
    with pytest.raises(SignatureError):
        _webhook().verify(_request(params, signature, url), NOW)


def test_replayed_request_is_rejected_and_forget_lets_a_retry_through() -> None:
    hook = _webhook()
    request = _request(VECTOR_PARAMS, VECTOR_SIGNATURE)
    hook.verify(request, NOW)
    with pytest.raises(SignatureError):
        hook.verify(request, NOW + timedelta(minutes=1))
    # Twilio signs no timestamp, so "stale" cannot be told apart: a day-old capture is still a replay
    with pytest.raises(SignatureError):
        hook.verify(request, NOW + timedelta(hours=23))
    hook.forget(request)  # handling failed after verify: Twilio's identical retry must pass
    hook.verify(request, NOW + timedelta(hours=23))


def test_public_base_url_rebuilds_the_url_twilio_signed() -> None:
    behind_proxy = _request(VECTOR_PARAMS, VECTOR_SIGNATURE, url="http://10.0.0.5:8000/twilio/sms")
    with pytest.raises(SignatureError):
        _webhook().verify(behind_proxy, NOW)
    _webhook(public_base_url="https://example.com").verify(behind_proxy, NOW)


def test_a_path_prefix_in_both_public_base_urls_is_applied_once() -> None:
    # NOSHOW_PUBLIC_BASE_URL and TWILIO_PUBLIC_BASE_URL both https://host/app: the route already rebuilt the URL
    # with the prefix (public base + the path the app saw), so the webhook must not add it a second time
    twilio_called = "https://host.example/app/webhooks/twilio"
    signed = _signed(VECTOR_PARAMS, url=twilio_called)
    rebuilt_by_route = "https://host.example/app" + "/webhooks/twilio"
    request = signed.model_copy(update={"url": rebuilt_by_route})
    _webhook(public_base_url="https://host.example/app").verify(request, NOW)
    _webhook(public_base_url="https://host.example/app/").forget(request)
    # a proxy that strips the prefix in front of an API configured without it: the prefix comes from Twilio's base
    stripped = signed.model_copy(update={"url": "http://10.0.0.5:8000/webhooks/twilio"})
    _webhook(public_base_url="https://host.example/app").verify(stripped, NOW)
    # a different prefix is still a different URL
    with pytest.raises(SignatureError):
        _webhook(public_base_url="https://host.example/other").verify(
            signed.model_copy(update={"url": "https://host.example/application/webhooks/twilio"}), NOW)


def test_port_variants_and_repeated_parameters_follow_the_sdk() -> None:
    url = "https://example.com:443/twilio/sms"
    body = "MessageSid=SM9&From=%2B15551234567&MediaUrl0=a&MediaUrl0=b&Body=hi"
    params = {"MessageSid": ["SM9"], "From": ["+15551234567"], "MediaUrl0": ["a", "b"], "Body": ["hi"]}
    text = "https://example.com/twilio/sms" + "".join(
        name + value for name in sorted(params) for value in sorted(params[name]))
    signature = base64.b64encode(hmac.new(VECTOR_TOKEN.encode(), text.encode(), hashlib.sha1).digest()).decode()
    request = RawRequest(method="POST", url=url, headers={"x-twilio-signature": signature}, body=body.encode())
    _webhook().verify(request, NOW)


def test_shared_key_sha256_signatures() -> None:
    settings_header = {"x-twilio-webhooks-signature-settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"}
    signature = RequestValidator("shared_secret").compute_signature(VECTOR_URL, VECTOR_PARAMS, "HMAC_SHA256")
    request = _request(VECTOR_PARAMS, signature, extra_headers=settings_header)
    with pytest.raises(SignatureError):
        _webhook().verify(request, NOW)  # no shared key configured
    _webhook(webhook_shared_key=SecretStr("shared_secret")).verify(request, NOW)
    # an auth-token signature cannot pass as a SharedKey one
    with pytest.raises(SignatureError):
        _webhook(webhook_shared_key=SecretStr("shared_secret")).verify(
            _request(VECTOR_PARAMS, VECTOR_SIGNATURE, extra_headers=settings_header), NOW)


# ---------------------------------------------------------------- parsing


def test_whatsapp_inbound_strips_the_prefix() -> None:
    params = {"MessageSid": "SMwa1", "From": "whatsapp:+15551234567", "To": "whatsapp:+15557654321",
              "Body": "Tuesday works", "ProfileName": "J", "WaId": "15551234567", "NumMedia": "0"}
    hook = _webhook()
    request = _signed(params)
    hook.verify(request, NOW)
    [message] = hook.parse(request).messages
    assert message.channel == Channel.whatsapp
    assert (message.sender, message.recipient, message.text) == ("+15551234567", "+15557654321", "Tuesday works")
    assert message.opt_out_type is None


def test_status_callbacks_map_and_dedupe_per_status() -> None:
    hook = _webhook()
    delivered = _signed({"MessageSid": "SM1", "MessageStatus": "delivered", "SmsStatus": "delivered",
                         "To": "+15557654321", "From": "+15550001111", "AccountSid": "AC1"})
    hook.verify(delivered, NOW)
    result = hook.parse(delivered)
    assert result.dedupe_key == "twilio:SM1:delivered"
    [status] = result.statuses
    assert (status.provider_message_id, status.status, status.recipient) == ("SM1", "delivered", "+15557654321")

    opted_out = _signed({"MessageSid": "SM1", "MessageStatus": "failed", "ErrorCode": "21610",
                         "To": "whatsapp:+15557654321"})
    hook.verify(opted_out, NOW)
    result = hook.parse(opted_out)
    assert result.dedupe_key == "twilio:SM1:failed"
    assert result.statuses[0].status == "unsubscribed"
    assert result.statuses[0].error_code == "21610"
    assert result.statuses[0].recipient == "+15557654321"

    undelivered = hook.parse(_signed({"MessageSid": "SM2", "MessageStatus": "undelivered", "ErrorCode": "30006"}))
    assert undelivered.statuses[0].status == "undelivered"
    assert undelivered.statuses[0].error_code == "30006"

    odd = hook.parse(_signed({"MessageSid": "SM3", "MessageStatus": "brand_new_status"}))
    assert odd.statuses == [] and odd.unknown_types == ["twilio:status:brand_new_status"]


def test_status_callback_carries_our_ids_from_the_signed_url() -> None:
    url = "https://example.com/webhooks/twilio?case_id=case-1&message_id=case-1%3Aoffer"
    hook = _webhook()
    request = _signed({"MessageSid": "SM5", "MessageStatus": "sent"}, url=url)
    hook.verify(request, NOW)
    [status] = hook.parse(request).statuses
    assert (status.case_id, status.message_id, status.status) == ("case-1", "case-1:offer", "sent")
    forged = _signed({"MessageSid": "SM5", "MessageStatus": "sent"}, url=url)
    forged = forged.model_copy(update={"url": url.replace("case-1&", "case-2&")})
    with pytest.raises(SignatureError):
        _webhook().verify(forged, NOW)


def test_status_callback_defaults_to_the_public_base_url() -> None:
    channel = TwilioChannel(TwilioSettings(account_sid=ACCOUNT_SID, auth_token=SecretStr(AUTH_TOKEN),
                                           public_base_url="https://noshow.example.com/"))
    assert channel.status_callback(_message()) == (
        "https://noshow.example.com/webhooks/twilio?case_id=case-1&message_id=case-1%3Aoffer")


def test_authentic_request_without_message_sid_is_a_payload_error() -> None:
    hook = _webhook()
    request = _signed({"Body": "hello"})
    hook.verify(request, NOW)
    with pytest.raises(PayloadError):
        hook.parse(request)


# ---------------------------------------------------------------- outbound


@pytest.fixture
def fake() -> Iterator[TwilioFake]:
    with TwilioFake() as server:
        yield server  # type: ignore[misc]


def _channel(fake: TwilioFake, send_log: SqliteSendLog | None = None, **overrides: object) -> TwilioChannel:
    settings = TwilioSettings(
        account_sid=ACCOUNT_SID, auth_token=SecretStr(AUTH_TOKEN), from_number="+15550001111",
        whatsapp_from="+15550002222", status_callback_url="https://noshow.example.com/webhooks/twilio",
        api_base_url=fake.base_url, timeout_seconds=0.5, **overrides,  # type: ignore[arg-type]
    )
    return TwilioChannel(settings, send_log=send_log)


def _message(message_id: str = "case-1:offer", to: str = "+15557654321", channel: Channel = Channel.sms
             ) -> OutboundMessage:
    return OutboundMessage(message_id=message_id, case_id="case-1", channel=channel, to=to,
                           body="We missed you today. Reply 1 or 2 to pick a new time.")


def test_send_sms_records_one_message_with_status_callback(fake: TwilioFake) -> None:
    channel = _channel(fake)
    assert isinstance(channel, MessageChannel)
    receipt = channel.send(_message())
    [sent] = fake.messages
    assert receipt.provider_message_id == sent.sid and not receipt.duplicate
    assert (sent.to, sent.from_, sent.status_callback) == (
        "+15557654321", "+15550001111",
        "https://noshow.example.com/webhooks/twilio?case_id=case-1&message_id=case-1%3Aoffer")
    assert sent.body and sent.body.startswith("We missed you")
    again = channel.send(_message())
    assert again.duplicate and again.provider_message_id == sent.sid
    assert len(fake.messages) == 1
    assert channel.lookup("case-1:offer") == again
    assert channel.lookup("never-sent") is None


def test_send_whatsapp_uses_prefixed_addresses(fake: TwilioFake) -> None:
    _channel(fake).send(_message(channel=Channel.whatsapp))
    [sent] = fake.messages
    assert (sent.to, sent.from_) == ("whatsapp:+15557654321", "whatsapp:+15550002222")


def test_messaging_service_replaces_from(fake: TwilioFake) -> None:
    receipt = _channel(fake, messaging_service_sid="MG0000000000000000000000000000000a").send(_message())
    [sent] = fake.messages
    assert sent.messaging_service_sid == "MG0000000000000000000000000000000a" and sent.from_ is None
    assert receipt.status == "accepted"


def test_429_is_retryable_with_retry_after_and_sends_once_after(fake: TwilioFake) -> None:
    channel = _channel(fake)
    fake.rate_limit_next("7")
    with pytest.raises(RetryableProviderError) as info:
        channel.send(_message())
    assert info.value.retry_after == 7
    assert fake.messages == []
    channel.send(_message())
    assert len(fake.messages) == 1


def test_500_is_retryable_and_the_retry_looks_first(fake: TwilioFake) -> None:
    channel = _channel(fake)
    fake.server_error_next()
    with pytest.raises(RetryableProviderError):
        channel.send(_message())
    receipt = channel.send(_message())
    assert len(fake.messages) == 1 and not receipt.duplicate
    assert len(fake.calls("GET", "/Messages.json")) == 1  # the lookup before the re-send


@pytest.mark.parametrize(("to", "code", "opt_out"), [
    ("+15550009999", "21610", True),
    ("+15550008888", "21614", False),
    ("not-a-number", "21211", False),
])
def test_permanent_errors(fake: TwilioFake, to: str, code: str, opt_out: bool) -> None:
    fake.opted_out.add("+15550009999")
    fake.landlines.add("+15550008888")
    with pytest.raises(PermanentProviderError) as info:
        _channel(fake).send(_message(to=to))
    assert info.value.code == code
    assert info.value.opt_out is opt_out
    assert to not in str(info.value)  # no phone numbers in exception messages
    assert fake.messages == []


def test_bad_credentials_are_permanent(fake: TwilioFake) -> None:
    settings = TwilioSettings(account_sid=ACCOUNT_SID, auth_token=SecretStr("wrong"), from_number="+15550001111",
                              api_base_url=fake.base_url)
    with pytest.raises(PermanentProviderError) as info:
        TwilioChannel(settings).send(_message())
    assert info.value.code == "20003"


@pytest.mark.parametrize("failure", ["reset", "hang"])
def test_ambiguous_failure_then_retry_sends_exactly_once(fake: TwilioFake, failure: str) -> None:
    channel = _channel(fake)
    if failure == "reset":
        fake.accept_then_reset_next()
    else:
        fake.accept_then_hang_next()
    with pytest.raises(AmbiguousSendError):
        channel.send(_message())
    assert len(fake.messages) == 1  # Twilio accepted it; we never heard back
    receipt = channel.send(_message())
    assert receipt.duplicate and receipt.provider_message_id == fake.messages[0].sid
    assert len(fake.messages) == 1
    assert channel.send(_message()).provider_message_id == fake.messages[0].sid  # now from the send log
    assert len(fake.calls("GET", "/Messages.json")) == 1


def test_ambiguous_failure_before_acceptance_sends_on_retry(fake: TwilioFake) -> None:
    channel = _channel(fake)
    fake.hang_next()  # the fake never processed the request
    with pytest.raises(AmbiguousSendError):
        channel.send(_message())
    assert fake.messages == []
    receipt = channel.send(_message())
    assert len(fake.messages) == 1 and not receipt.duplicate


def test_lookup_does_not_adopt_a_different_message_to_the_same_number(fake: TwilioFake) -> None:
    channel = _channel(fake)
    channel.send(_message(message_id="case-1:first").model_copy(update={"body": "An earlier reminder"}))
    fake.hang_next()
    with pytest.raises(AmbiguousSendError):
        channel.send(_message())
    channel.send(_message())
    assert [m.body for m in fake.messages] == ["An earlier reminder", _message().body]


def test_sqlite_send_log_survives_a_worker_restart(fake: TwilioFake, tmp_path: Path) -> None:
    path = tmp_path / "sendlog.db"
    fake.accept_then_reset_next()
    with pytest.raises(AmbiguousSendError):
        _channel(fake, send_log=SqliteSendLog(path)).send(_message())
    receipt = _channel(fake, send_log=SqliteSendLog(path)).send(_message())  # a new worker process
    assert receipt.duplicate and len(fake.messages) == 1
