"""Missed calls: Twilio Voice callbacks (signed with X-Twilio-Signature, checked by the SDK's RequestValidator)
and a phone system's `phone.call_missed` Standard Webhooks event (signed with the `standardwebhooks` SDK) become a
missed call, which finds the case whose appointment is near the call through the caller's address key and leaves
a call-back staff task, a CRM task and a ledger event, per the program's `missed_calls` rules."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr
from standardwebhooks.webhooks import Webhook
from twilio.request_validator import RequestValidator

from connectors.contract import PhoneCall, RawRequest, SignatureError
from connectors.inbound import PayloadError
from connectors.standard_webhooks import StandardWebhooksInbound
from connectors.twilio.settings import TwilioSettings
from connectors.twilio.webhook import TwilioWebhook
from domain import addresses
from domain.models import EventType
from tests.helpers import local_settings
from workers.dependencies import Dependencies, build_dependencies
from workers.intake.calls import CALL_BACK, record_missed_call

TOKEN = "twilio_auth_token"
URL = "https://noshow.example.com/webhooks/twilio"
CALLER = "+14155550100"
# a <Dial> action request (https://www.twilio.com/docs/voice/twiml/dial): the clinic's phone rang out
DIAL_ACTION = {"AccountSid": "AC" + "1" * 32, "CallSid": "CA" + "2" * 32, "From": CALLER, "To": "+14155550199",
               "CallStatus": "in-progress", "Direction": "inbound", "DialCallStatus": "no-answer",
               "DialCallSid": "CA" + "3" * 32, "DialCallDuration": "0"}
SECRET = "whsec_" + base64.b64encode(b"phone-system-secret-0123456789ab").decode()
NOW = datetime.now(UTC).replace(microsecond=0)


def _twilio(params: dict[str, str], token: str = TOKEN) -> RawRequest:
    signature = RequestValidator(token).compute_signature(URL, params)
    return RawRequest(method="POST", url=URL, body=urlencode(params).encode(),
                      headers={"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature})


def _standard(body: dict[str, object], msg_id: str = "msg_call_1") -> RawRequest:
    raw = json.dumps(body).encode()
    signature = Webhook(SECRET).sign(msg_id, NOW, raw.decode())
    return RawRequest(method="POST", url="https://noshow.example.com/webhooks/events", body=raw,
                      headers={"webhook-id": msg_id, "webhook-timestamp": str(int(NOW.timestamp())),
                               "webhook-signature": signature, "content-type": "application/json"})


# ---------------------------------------------------------------- Twilio Voice


def test_an_unanswered_dial_is_a_missed_call_from_the_caller() -> None:
    hook = TwilioWebhook(TwilioSettings(auth_token=SecretStr(TOKEN)))
    request = _twilio(DIAL_ACTION)
    hook.verify(request, NOW)
    result = hook.parse(request)
    [call] = result.missed_calls
    assert (call.call_id, call.caller, call.status, call.source) == (DIAL_ACTION["CallSid"], CALLER, "no-answer",
                                                                     "twilio")
    assert result.dedupe_key == f"twilio:{DIAL_ACTION['CallSid']}:no-answer"
    assert result.response == "<Response/>" and not result.messages and not result.statuses


@pytest.mark.parametrize("status", ["busy", "failed", "canceled"])
def test_busy_failed_and_hung_up_calls_are_missed(status: str) -> None:
    params = {k: v for k, v in DIAL_ACTION.items() if not k.startswith("Dial")} | {"CallStatus": status}
    [call] = TwilioWebhook(TwilioSettings(auth_token=SecretStr(TOKEN))).parse(_twilio(params)).missed_calls
    assert call.status == status


@pytest.mark.parametrize("change", [{"DialCallStatus": "completed"}, {"Direction": "outbound-api"},
                                    {"DialCallStatus": "answered"}])
def test_answered_and_outbound_calls_are_not_missed(change: dict[str, str]) -> None:
    result = TwilioWebhook(TwilioSettings(auth_token=SecretStr(TOKEN))).parse(_twilio(DIAL_ACTION | change))
    assert result.missed_calls == []


def test_a_voice_callback_with_a_forged_signature_is_refused() -> None:
    hook = TwilioWebhook(TwilioSettings(auth_token=SecretStr(TOKEN)))
    with pytest.raises(SignatureError):
        hook.verify(_twilio(DIAL_ACTION, token="another-token"), NOW)
    with pytest.raises(SignatureError):
        hook.verify(_twilio(DIAL_ACTION).model_copy(update={"body": urlencode(DIAL_ACTION | {
            "From": "+14155550111"}).encode()}), NOW)


# ---------------------------------------------------------------- other phone systems (Standard Webhooks)


def test_a_phone_systems_missed_call_event_is_verified_and_parsed() -> None:
    hook = StandardWebhooksInbound(SECRET)
    request = _standard({"type": "phone.call_missed", "timestamp": NOW.isoformat(),
                         "data": {"caller": CALLER, "call_id": "pbx-77", "status": "voicemail"}})
    hook.verify(request, NOW)
    [call] = hook.parse(request).missed_calls
    assert (call.call_id, call.caller, call.status, call.at) == ("pbx-77", CALLER, "voicemail", NOW)


def test_a_missed_call_event_without_a_caller_is_refused_naming_the_field() -> None:
    with pytest.raises(PayloadError, match="caller"):
        StandardWebhooksInbound(SECRET).parse(_standard({"type": "phone.call_missed", "data": {"status": "busy"}}))


def test_phone_bookings_and_cancellations_are_appointment_events() -> None:
    appointment = {"source": "phone", "appointment_id": "pbx-appt-1", "appointment_type": "consultation",
                   "calendar_id": "cal-1", "start": (NOW + timedelta(days=1)).isoformat(),
                   "end": (NOW + timedelta(days=1, minutes=30)).isoformat(),
                   "contact": {"contact_id": "pbx-contact-1", "phone": CALLER}}
    hook = StandardWebhooksInbound(SECRET)
    for kind, expected in (("phone.booking", EventType.booked), ("phone.cancellation", EventType.cancelled)):
        [event] = hook.parse(_standard({"type": kind, "timestamp": NOW.isoformat(),
                                        "data": {"appointment": appointment}}, msg_id=f"msg-{kind}")).events
        assert event.type == expected and event.appointment.appointment_id == "pbx-appt-1"


# ---------------------------------------------------------------- the engine's part


@pytest.fixture
def deps(tmp_path: Path) -> Dependencies:
    return build_dependencies(local_settings(tmp_path / "data"))


def _case(deps: Dependencies, case_id: str, phone: str, start: datetime) -> None:
    """What the intake writes when a case starts (workers/intake/cases.py)."""
    key = addresses.address_key(phone, deps.settings.auth.id_salt)
    deps.addresses.remember(case_id, f"contact-{case_id}", [key])
    deps.addresses.remember_appointment(case_id, deps.policy().programs[0].name, start)


def test_a_missed_call_on_the_appointment_day_leaves_one_call_back_task(deps: Dependencies) -> None:
    _case(deps, "case-today", CALLER, NOW + timedelta(hours=2))
    _case(deps, "case-last-month", CALLER, NOW - timedelta(days=30))
    call = PhoneCall(call_id="CA1", caller="(415) 555-0100", at=NOW, status="no-answer", source="twilio")
    assert record_missed_call(deps, call) == "case-today"
    assert record_missed_call(deps, call) == "case-today"  # the provider's retry
    [task] = deps.inbox.tasks()
    assert (task["case_id"], task["routed"], task["intent"], task["text"]) == ("case-today", "missed_call",
                                                                               "call_back", CALL_BACK)
    assert CALLER not in json.dumps(task, default=str)
    with deps.db.connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM crm_tasks WHERE title = ?", (CALL_BACK,)).fetchone()[0] == 1
    assert [e.type for e in deps.ledger.events("case-today")].count("missed_call") == 1


def test_a_call_far_from_any_appointment_or_from_an_unknown_number_does_nothing(deps: Dependencies) -> None:
    _case(deps, "case-next-week", CALLER, NOW + timedelta(days=7))
    assert record_missed_call(deps, PhoneCall(call_id="CA2", caller=CALLER, at=NOW, status="busy")) is None
    assert record_missed_call(deps, PhoneCall(call_id="CA3", caller="+14155550177", at=NOW, status="busy")) is None
    assert record_missed_call(deps, PhoneCall(call_id="CA4", caller="anonymous", at=NOW, status="busy")) is None
    assert deps.inbox.tasks() == []


def test_the_program_can_turn_the_call_back_task_off(deps: Dependencies) -> None:
    policy = deps.policy()
    policy.programs[0].missed_calls.call_back_task = False
    _case(deps, "case-quiet", CALLER, NOW + timedelta(hours=1))
    assert record_missed_call(deps, PhoneCall(call_id="CA5", caller=CALLER, at=NOW, status="no-answer")) == \
        "case-quiet"
    assert deps.inbox.tasks() == []
    assert [e.type for e in deps.ledger.events("case-quiet")] == ["missed_call"]
