"""No exception raised from a message channel quotes the recipient: exception messages carry no PII.

Exception text ends up in activity failures (stored by Temporal) and in log lines. Provider error bodies can echo
the phone number or the email address, and the Twilio look-up before a re-send carries the number in its URL
(`?To=+1...`), so every failure path is driven here with the recipient planted where a careless message would
pick it up, and the raised error is searched for every spelling of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from pydantic import SecretStr

from connectors.contract import OutboundMessage, PermanentProviderError, ProviderError, RetryableProviderError
from connectors.sendgrid.channel import SendGridChannel
from connectors.sendgrid.settings import SendGridSettings
from connectors.twilio.channel import SCOPE, TwilioChannel
from connectors.twilio.sendlog import MemorySendLog
from connectors.twilio.settings import TwilioSettings
from domain.models import Channel
from tests.fakes.sendgrid_fake import API_KEY, SendGridFake
from tests.fakes.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TwilioFake, twilio_error

PHONE = "+15557654321"
EMAIL = "jane.canary@example.com"


def spellings(value: str) -> list[str]:
    return [value, quote(value, safe=""), value.lstrip("+"), quote(value, safe="").lower()]


def assert_no_recipient(exc: BaseException, recipient: str) -> None:
    text = " ".join([str(exc), repr(exc), str(getattr(exc, "code", "") or "")])
    leaks = [s for s in spellings(recipient) if s in text]
    assert not leaks, f"{type(exc).__name__} quotes the recipient: {text[:300]}"


@pytest.fixture
def twilio() -> Iterator[TwilioFake]:
    with TwilioFake() as server:
        yield server  # type: ignore[misc]


def sms() -> OutboundMessage:
    return OutboundMessage(message_id="case-1:offer", case_id="case-1", channel=Channel.sms, to=PHONE,
                           body="We missed you today. Reply 1 or 2 to pick a new time.")


def twilio_channel(base_url: str, send_log: MemorySendLog | None = None) -> TwilioChannel:
    settings = TwilioSettings(account_sid=ACCOUNT_SID, auth_token=SecretStr(AUTH_TOKEN), from_number="+15550001111",
                              api_base_url=base_url, timeout_seconds=0.5)
    return TwilioChannel(settings, send_log=send_log)


def pending_log() -> MemorySendLog:
    """A send log whose first attempt ended ambiguously: the next send looks the message up first."""
    log = MemorySendLog()
    log.begin(SCOPE, "case-1:offer", datetime.now(UTC))
    return log


@pytest.mark.parametrize("status", [400, 404, 429, 500, 503])
def test_twilio_send_errors_quoting_the_number_stay_out_of_the_exception(twilio: TwilioFake, status: int) -> None:
    twilio.fail_next(status, twilio_error(status, 21211, f"The 'To' number {PHONE} is not a valid phone number."))
    with pytest.raises(ProviderError) as info:
        twilio_channel(twilio.base_url).send(sms())
    assert_no_recipient(info.value, PHONE)


@pytest.mark.parametrize("body", [
    twilio_error(500, 20500, f"Internal error for {PHONE}"),
    f"<html>upstream failed for To={PHONE}</html>",
    {"messages": [{"to": PHONE}]},  # a 500 with a body shaped like a page
])
def test_twilio_lookup_failure_does_not_quote_the_number(twilio: TwilioFake, body: object) -> None:
    """messages.list() raises a bare TwilioException('Unable to fetch page', response) on a non-200 page, whose
    text is the provider's body (it used to escape uncaught, number and all)."""
    twilio.fail_next(500, body)
    with pytest.raises(ProviderError) as info:
        twilio_channel(twilio.base_url, pending_log()).send(sms())
    assert_no_recipient(info.value, PHONE)
    assert twilio.calls("GET", "/Messages.json") and not twilio.messages  # it looked and did not send


def test_twilio_lookup_with_a_broken_api_url_does_not_quote_the_number() -> None:
    """requests names the full URL (To=%2B1555...) in InvalidSchema; the look-up used to let it escape."""
    with pytest.raises(ProviderError) as info:
        twilio_channel("htp://twilio.invalid", pending_log()).send(sms())
    assert_no_recipient(info.value, PHONE)


def test_twilio_send_with_a_broken_api_url_is_a_permanent_config_error() -> None:
    with pytest.raises(PermanentProviderError) as info:
        twilio_channel("htp://twilio.invalid").send(sms())
    assert info.value.code == "config"
    assert_no_recipient(info.value, PHONE)


@pytest.fixture
def sendgrid() -> Iterator[SendGridFake]:
    with SendGridFake() as server:
        yield server  # type: ignore[misc]


def email() -> OutboundMessage:
    return OutboundMessage(message_id="case-7:offer", case_id="case-7", channel=Channel.email, to=EMAIL,
                           subject="We missed you", body="Pick a new time.")


@pytest.mark.parametrize("error", [
    {"field": EMAIL, "message": "invalid"},
    {"field": f"personalizations.0.to.0.email ({EMAIL})", "message": "invalid"},
    {"field": None, "message": f"Does not contain a valid address: {EMAIL}"},
])
def test_sendgrid_error_fields_quoting_the_address_stay_out_of_the_exception(sendgrid: SendGridFake,
                                                                            error: dict[str, object]) -> None:
    sendgrid.fail_next(400, {"errors": [error]})
    settings = SendGridSettings(api_key=SecretStr(API_KEY), from_email="bookings@example.com",
                                api_host=sendgrid.base_url, timeout_seconds=0.5)
    with pytest.raises(ProviderError) as info:
        SendGridChannel(settings).send(email())
    assert_no_recipient(info.value, EMAIL)


def test_sendgrid_keeps_a_plain_field_path_as_the_code(sendgrid: SendGridFake) -> None:
    sendgrid.fail_next(400, {"errors": [{"field": "personalizations.0.to.0.email", "message": "invalid"}]})
    settings = SendGridSettings(api_key=SecretStr(API_KEY), from_email="bookings@example.com",
                                api_host=sendgrid.base_url, timeout_seconds=0.5)
    with pytest.raises(ProviderError) as info:
        SendGridChannel(settings).send(email())
    assert getattr(info.value, "code", None) == "personalizations.0.to.0.email"


# ------------------------------------------------------------------ odd values in provider answers


@pytest.mark.parametrize("code", ["²", "9" * 5000, "-1", None, "abc"], ids=lambda c: repr(c)[:12])
def test_twilio_error_codes_that_are_not_plain_numbers(twilio: TwilioFake, code: object) -> None:
    """`str(code).isdigit()` is true for '²' and for 5,000 digits; int() of either raised ValueError."""
    twilio.fail_next(400, {"code": code, "message": f"bad To {PHONE}", "status": 400})
    with pytest.raises(PermanentProviderError) as info:
        twilio_channel(twilio.base_url).send(sms())
    assert_no_recipient(info.value, PHONE)


@pytest.mark.parametrize("reset", ["²", "9" * 5000, "-5", "soon"], ids=lambda c: repr(c)[:12])
def test_sendgrid_rate_limit_reset_that_is_not_a_plain_number(sendgrid: SendGridFake, reset: str) -> None:
    sendgrid.fail_next(429, {"errors": [{"message": "too many"}]}, {"X-RateLimit-Reset": reset})
    settings = SendGridSettings(api_key=SecretStr(API_KEY), from_email="bookings@example.com",
                                api_host=sendgrid.base_url, timeout_seconds=0.5)
    with pytest.raises(RetryableProviderError) as info:
        SendGridChannel(settings).send(email())
    assert info.value.retry_after is None or info.value.retry_after >= 0
