"""The inbound parsing helpers and every connector's `parse`, without the HTTP stack (fast, so many examples).

The API answers a SignatureError (and a malformed signature header) with 401 and a PayloadError / ValueError
from `parse` with 422; anything else escaping a connector is a 500. So the contract checked here: an authentic
request, whatever its body, makes `check_signature` + `parse` return or raise one of those, and what they return
renders as the JSON the API sends back.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from starlette.responses import JSONResponse, PlainTextResponse
from twilio.request_validator import RequestValidator

from connectors.calcom.inbound import CalcomInbound
from connectors.calendly.inbound import CalendlyInbound
from connectors.contract import RawRequest, SignatureError, WebhookResult
from connectors.inbound import InboundBase, PayloadError, load_json, opt_dt, parse_dt
from connectors.sendgrid.parse import SendGridInboundParse
from connectors.sendgrid.settings import SendGridSettings
from connectors.signatures import check_timestamp, parse_int
from connectors.slack.interactivity import SlackInteractivity, slack_signature
from connectors.slack.settings import SlackSettings
from connectors.twilio.settings import TwilioSettings
from connectors.twilio.webhook import TwilioWebhook
from connectors.zoom.inbound import ZoomInbound
from tests.connectors import cases
from tests.connectors.kit import FIXTURES
from tests.fuzz.conftest import fuzz_settings
from tests.fuzz.payloads import mutated_json, short_id

# ------------------------------------------------------------------ load_json


@pytest.mark.parametrize(("body", "why"), [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"a": ' * 5_000 + b"1" + b"}" * 5_000, "nested too deeply"),
    (b'{"type": "\\ud800"}', "surrogate"),
    (b'{"\\udc00": 1}', "surrogate"),
    (b'["ok", {"deep": ["\\ud83d x"]}]', "surrogate"),  # a high surrogate whose low half never comes
    (b"NaN", "not valid JSON"),
    (b'{"a": -Infinity}', "not valid JSON"),
    (b"[1e999]", "not valid JSON"),
    (b"9" * 5_000, "not JSON"),  # past Python's int digit limit
    (b"\xed\xa0\x80", "not JSON"),  # an encoded surrogate is not UTF-8
    (b"\xff", "not JSON"),
    (b"", "not JSON"),
], ids=short_id)
def test_load_json_refuses_what_would_500_later(body: bytes, why: str) -> None:
    with pytest.raises(PayloadError, match=why):
        load_json(body)


@pytest.mark.parametrize(("body", "value"), [
    (b'"\\ud83d\\ude00"', "\U0001f600"),  # a surrogate pair is one code point
    (b'"\\\\ud800"', "\\ud800"),  # an escaped backslash, not an escape
    (b'{"a": [1.5, -2, 1e308]}', {"a": [1.5, -2, 1e308]}),
    (b"[" * 500 + b"]" * 500, None),
], ids=short_id)
def test_load_json_keeps_valid_json(body: bytes, value: Any) -> None:
    loaded = load_json(body)
    if value is not None:
        assert loaded == value


def test_load_json_checks_str_input_for_surrogates_too() -> None:
    with pytest.raises(PayloadError, match="surrogate"):
        load_json('{"a": "\ud800"}')


@fuzz_settings(300)
@given(body=st.one_of(st.binary(max_size=300), st.text(max_size=100).map(
    lambda t: t.encode("utf-8", "surrogatepass")), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3), max_leaves=10,
).map(lambda v: json.dumps(v).encode())))
def test_load_json_returns_encodable_json_or_raises_payload_error(body: bytes) -> None:
    try:
        value = load_json(body)
    except PayloadError:
        return
    json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")  # what a response or log line does


# ------------------------------------------------------------------ timestamps


@pytest.mark.parametrize("value", [10**20, -(10**20), 1e300, -1e300, "9" * 30, "9" * 5_000, "²", "¹²³",
                                   253402300800 * 1000 * 1000, "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00",
                                   "9999-12-31T23:59:59-12:00", "2201-01-01T00:00:00Z", "1899-12-31T23:59:59Z",
                                   "2026-13-45", True, None, "", [], {}], ids=short_id)
def test_parse_dt_refuses_out_of_range_and_malformed_times(value: Any) -> None:
    with pytest.raises(PayloadError):
        parse_dt(value)
    assert opt_dt(value) is None


@pytest.mark.parametrize(("value", "expected"), [
    (1767603600, datetime(2026, 1, 5, 9, tzinfo=UTC)), (1767603600000, datetime(2026, 1, 5, 9, tzinfo=UTC)),
    ("1767603600", datetime(2026, 1, 5, 9, tzinfo=UTC)), ("2026-01-05T09:00:00Z", datetime(2026, 1, 5, 9, tzinfo=UTC)),
    (0, datetime(1970, 1, 1, tzinfo=UTC)),
])
def test_parse_dt_still_reads_real_times(value: Any, expected: datetime) -> None:
    assert parse_dt(value) == expected


@pytest.mark.parametrize("text", ["9" * 400, "-" + "9" * 400, "9" * 19, "--5", "-", "²", "¹²³", "1.5", "1e9",
                                  "0x10", "+5", "", "1 2", None], ids=short_id)
def test_parse_int_refuses_what_is_not_a_plain_timestamp(text: str | None) -> None:
    with pytest.raises(SignatureError):
        parse_int(text, "timestamp")


@fuzz_settings(300)
@given(text=st.one_of(st.text(max_size=30), st.integers().map(str), st.from_regex(r"-?[0-9]{1,500}", fullmatch=True)))
def test_any_timestamp_header_is_accepted_or_a_signature_error(text: str) -> None:
    """parse_int then check_timestamp, as every timestamped scheme does: no other exception (10**400 used to
    raise OverflowError in the window arithmetic)."""
    try:
        check_timestamp(parse_int(text, "ts"), datetime.now(UTC), 300)
        check_timestamp(parse_int(text, "ts") / 1000, datetime.now(UTC), 300)  # HubSpot's milliseconds
    except SignatureError:
        pass


# ------------------------------------------------------------------ connectors, fixture by fixture

NOW = datetime.now(UTC)
CONNECTORS = {
    "calcom": (cases.calcom_case().make, cases.calcom_request),
    "calendly": (cases.calendly_case().make, cases.calendly_request),
    "hubspot": (cases.hubspot_case().make, cases.hubspot_request),
    "zoom": (cases.zoom_case().make, cases.zoom_request),
    "standard": (cases.std_case().make, cases.std_request),
}


def render(result: WebhookResult) -> None:
    """What the API does with a result: every model to JSON, the handshake response as a body."""
    JSONResponse(result.model_dump(mode="json", exclude={"response"}))
    if isinstance(result.response, str):
        PlainTextResponse(result.response)
    elif result.response is not None:
        JSONResponse(result.response)


def run(connector: InboundBase, request: RawRequest) -> WebhookResult | None:
    try:
        connector.check_signature(request, NOW)
    except (SignatureError, PayloadError, ValueError):
        return None
    try:
        result = connector.parse(request)
    except (PayloadError, ValueError):
        return None
    render(result)
    return result


@pytest.mark.parametrize("provider", sorted(CONNECTORS))
@fuzz_settings(250)
@given(data=st.data())
def test_connectors_answer_mutated_payloads_with_a_payload_error_or_a_result(provider: str,
                                                                             data: st.DataObject) -> None:
    make, sign = CONNECTORS[provider]
    body = data.draw(mutated_json("events" if provider == "standard" else provider), label="body")
    run(make(), sign(body, NOW))  # type: ignore[arg-type]


SLACK_SECRET = "slack-secret-01"


def slack_request(body: bytes) -> RawRequest:
    ts = str(int(NOW.timestamp()))
    return RawRequest(method="POST", url="https://noshow.example.com/webhooks/slack", body=body, headers={
        "content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": ts,
        "x-slack-signature": slack_signature(SLACK_SECRET, ts, body)})


def slack_hook() -> SlackInteractivity:
    return SlackInteractivity(SlackSettings(signing_secret=SecretStr(SLACK_SECRET)))


def calcom_doc(**payload: Any) -> bytes:
    base = json.loads((FIXTURES / "calcom" / "booking_no_show_updated.json").read_text())
    base["payload"].update(payload)
    return json.dumps(base).encode()


@pytest.mark.parametrize("attendees", [5, 1.5, True, "jane", {"email": "x"}])
def test_calcom_attendees_that_are_not_a_list(attendees: Any) -> None:
    """`p.get("attendees") or []` iterated a number: TypeError -> 500."""
    run(CalcomInbound(cases.CAL_SECRET), cases.calcom_request(calcom_doc(attendees=attendees), NOW))


@pytest.mark.parametrize("price", [10**400, 1e308, -1, "100", None], ids=short_id)
def test_calcom_price_that_float_cannot_hold(price: Any) -> None:
    body = json.loads((FIXTURES / "calcom" / "booking_created.json").read_text())
    body["payload"]["price"] = price
    result = run(CalcomInbound(cases.CAL_SECRET), cases.calcom_request(json.dumps(body).encode(), NOW))
    assert result is not None and all(math.isfinite(e.appointment.value) for e in result.events)


def test_calendly_event_memberships_that_are_not_a_list() -> None:
    body = json.loads((FIXTURES / "calendly" / "invitee_created.json").read_text())
    body["payload"]["scheduled_event"]["event_memberships"] = 7
    result = run(CalendlyInbound(cases.CALENDLY_KEY), cases.calendly_request(json.dumps(body).encode(), NOW))
    assert result is not None and [e.type.value for e in result.events] == ["appointment.booked"]


@pytest.mark.parametrize(("fixture", "field", "value"), [
    ("meeting_ended.json", "duration", 10**400),
    ("participant_joined.json", "duration", 1e308),
    ("participant_joined.json", "start_time", "9999-12-31T23:59:59Z"),
], ids=short_id)
def test_zoom_durations_and_times_at_the_limits(fixture: str, field: str, value: Any) -> None:
    body = json.loads((FIXTURES / "zoom" / fixture).read_text())
    body["payload"]["object"][field] = value
    body["payload"]["object"].pop("end_time", None)
    result = run(ZoomInbound(cases.ZOOM_SECRET), cases.zoom_request(json.dumps(body).encode(), NOW))
    assert result is not None and len(result.events) == 1


@pytest.mark.parametrize("actions", [True, 5, "x", {"action_id": "review_approve"}, [None, 1]])
def test_slack_actions_that_are_not_a_list_of_objects(actions: Any) -> None:
    payload = {"type": "block_actions", "user": {"id": "U1"}, "container": {"message_ts": "1.1"}, "actions": actions}
    result = run(slack_hook(), slack_request(urlencode({"payload": json.dumps(payload)}).encode()))
    assert result is not None and result.review_actions == []


def test_slack_unknown_type_is_listed_clipped() -> None:
    body = urlencode({"payload": json.dumps({"type": "x" * 10_000})}).encode()
    result = run(slack_hook(), slack_request(body))
    assert result is not None and result.unknown_types == ["slack:" + "x" * 40]


def parse_request(fields: dict[str, tuple[bytes, str | None]]) -> RawRequest:
    parts = []
    for name, (value, charset) in fields.items():
        head = f'Content-Disposition: form-data; name="{name}"'
        if charset:
            head += f"\r\nContent-Type: text/plain; charset={charset}"
        parts.append(f"--xYzZY\r\n{head}\r\n\r\n".encode() + value + b"\r\n")
    return RawRequest(method="POST", url="https://noshow.example.com/webhooks/sendgrid_parse?token=t",
                      query={"token": "t"}, headers={"content-type": "multipart/form-data; boundary=xYzZY"},
                      body=b"".join(parts) + b"--xYzZY--\r\n")


@pytest.mark.parametrize(("fields", "text"), [
    # raw mode: the whole MIME message in `email`, its text part in a charset Python does not know (LookupError)
    ({"from": (b"jane@example.com", None), "email": (b"Content-Type: text/plain; charset=nope\n\nTuesday works", None)},
     "Tuesday works"),
    ({"from": (b"jane@example.com", None), "email": (
        b"Content-Type: multipart/alternative; boundary=q\n\n--q\nContent-Type: text/plain; charset=zzz\n\n"
        b"Tuesday works\n--q--", None)}, "Tuesday works"),
    # a field in a codec that has no "replace" error handler (UnicodeError, a 422 SendGrid would retry for days)
    ({"from": (b"jane@example.com", None), "text": (b"Tuesday works", "idna")}, "Tuesday works"),
])
def test_inbound_parse_reads_replies_in_charsets_python_does_not_know(fields: dict[str, tuple[bytes, str | None]],
                                                                     text: str) -> None:
    hook = SendGridInboundParse(SendGridSettings(parse_token=SecretStr("t")))
    result = run(hook, parse_request(fields))
    assert result is not None and [m.text for m in result.messages] == [text]


def twilio_callback(params: dict[str, str]) -> RawRequest:
    url = "https://noshow.example.com/webhooks/twilio"
    signature = RequestValidator("twilio-token").compute_signature(url, params)
    return RawRequest(method="POST", url=url, body=urlencode(params).encode(), headers={
        "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature})


@pytest.mark.parametrize(("error_code", "status"), [
    ("²", "undelivered"), ("9" * 5000, "undelivered"), ("30003", "undelivered"), ("21610", "unsubscribed"),
], ids=short_id)
def test_twilio_status_callback_error_codes_that_are_not_plain_numbers(error_code: str, status: str) -> None:
    """'²'.isdigit() is true and int('²') raised ValueError: a 422 Twilio would retry, for a real callback."""
    hook = TwilioWebhook(TwilioSettings(auth_token=SecretStr("twilio-token")))
    result = run(hook, twilio_callback({"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": error_code,
                                        "To": "+15557654321"}))
    assert result is not None and [s.status for s in result.statuses] == [status]
