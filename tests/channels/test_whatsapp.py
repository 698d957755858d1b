"""WhatsApp as WhatsApp requires (https://www.twilio.com/docs/api/errors/63016): free text only inside the 24 h
customer-service window opened by the customer's last inbound message, the approved Content template
(ContentSid + ContentVariables) outside it, a 63016 refusal sending the step by the next channel and closing the
window, and the booked-through channel first when the program says so. Sends go through the real `twilio` SDK
to the fake Messages API, which enforces the window."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from temporalio.client import Client

from activities.messaging import MessagingActivities
from connectors.contract import DeliveryStatus, MessageChannel, OutboundMessage, PermanentProviderError
from connectors.local.consent import ConsentLedger
from connectors.local.db import LocalDb
from connectors.local.outbox import LocalOutbox
from connectors.local.whatsapp_window import WhatsAppWindows
from connectors.twilio.channel import TwilioChannel
from connectors.twilio.settings import TwilioSettings
from domain.addresses import address_key
from domain.case import SendRequest
from domain.ids import contact_key_for
from domain.models import Appointment, Channel, LedgerEvent, Reply
from policies.schema import Template
from tests.fakes.base import RecordedRequest
from tests.fakes.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
from tests.helpers import appointment, fast_policy, local_settings, resolved_of
from workers.dependencies import build_dependencies
from workers.intake.replies import ReplyRouter
from workers.intake.statuses import record_delivery_status

SALT = "test-salt"
CONTENT_SID = "HX" + "0123456789abcdef" * 2
WHATSAPP_FIRST = Template(
    id="missed_first", channel=Channel.whatsapp, approved=True, approved_by="ops-lead@example.com",
    body="Hi {first_name}, we missed you on {appointment_date}. Reply to pick a new time. Reply STOP to opt out.",
    content_sid=CONTENT_SID, content_variables=["first_name", "appointment_date"],
)


class Ledger:
    def __init__(self) -> None:
        self.events: list[LedgerEvent] = []

    def append(self, event: LedgerEvent) -> bool:
        self.events.append(event)
        return True

    def append_many(self, events: list[LedgerEvent]) -> int:
        self.events.extend(events)
        return len(events)


@pytest.fixture
def fake() -> Iterator[TwilioFake]:
    with TwilioFake() as server:
        server.enforce_whatsapp_window = True
        yield server  # type: ignore[misc]


def _twilio(fake: TwilioFake) -> TwilioChannel:
    return TwilioChannel(TwilioSettings(
        account_sid=ACCOUNT_SID, auth_token=SecretStr(AUTH_TOKEN), from_number="+15550001111",
        whatsapp_from="+15550002222", api_base_url=fake.base_url, timeout_seconds=2))


def _engine(tmp_path: Path, fake: TwilioFake) -> tuple[MessagingActivities, WhatsAppWindows, Ledger]:
    db = LocalDb(tmp_path / f"{uuid.uuid4().hex}.db")
    outbox, windows, ledger = LocalOutbox(db), WhatsAppWindows(db), Ledger()
    twilio = _twilio(fake)
    channels: dict[Channel, MessageChannel] = {Channel.sms: twilio, Channel.whatsapp: twilio, Channel.email: outbox}
    return MessagingActivities(channels, outbox, ConsentLedger(db), ledger, salt=SALT, windows=windows), \
        windows, ledger


def _request(appt: Appointment, channels: list[Channel], template: Template | None = WHATSAPP_FIRST,
             prefer_booked: bool = False) -> SendRequest:
    policy = fast_policy()
    if template is not None:
        policy.templates.append(template)
    resolved = resolved_of(policy)
    resolved.program.send.prefer_booked_channel = prefer_booked
    case_id = f"case-{uuid.uuid4().hex[:24]}"
    return SendRequest(message_id=f"{case_id}-step0", case_id=case_id,
                       contact_key=contact_key_for(appt.contact.contact_id, SALT), appointment=appt,
                       resolved=resolved, template_id="missed_first", channels=channels, first_message=True,
                       created_at=datetime.now(UTC))


def _phone_key(appt: Appointment) -> str:
    assert appt.contact.phone
    return address_key(appt.contact.phone, SALT)


def _sends(fake: TwilioFake) -> list[dict[str, str]]:
    return [_form(r) for r in fake.calls("POST", "/Messages.json")]


def _form(request: RecordedRequest) -> dict[str, str]:
    return request.form()  # type: ignore[no-any-return]


# ---------------------------------------------------------------- the window store


def test_the_window_follows_the_last_inbound_message_and_a_refusal_closes_it(db_url: str) -> None:
    windows = WhatsAppWindows(LocalDb(db_url))
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert windows.last_inbound("k1") is None
    windows.record_inbound("k1", at)
    windows.record_inbound("k1", at - timedelta(hours=3))  # a late re-delivery of an older message
    assert windows.last_inbound("k1") == at
    windows.record_refusal("k1", at + timedelta(hours=1))
    assert windows.last_inbound("k1") is None  # Twilio said the window is closed: believe it
    windows.record_inbound("k1", at + timedelta(hours=2))
    assert windows.last_inbound("k1") == at + timedelta(hours=2)
    assert windows.last_inbound("k2") is None


# ---------------------------------------------------------------- sending


def test_inside_the_window_free_text_goes(tmp_path: Path, fake: TwilioFake) -> None:
    messaging, windows, _ = _engine(tmp_path, fake)
    appt = appointment(email=None)
    assert appt.contact.phone
    windows.record_inbound(_phone_key(appt), datetime.now(UTC) - timedelta(hours=2))
    fake.whatsapp_inbound[appt.contact.phone] = datetime.now(UTC) - timedelta(hours=2)
    result = messaging.send_message(_request(appt, [Channel.whatsapp, Channel.sms]))
    assert (result.status, result.channel) == ("sent", Channel.whatsapp)
    [sent] = _sends(fake)
    assert sent["To"] == f"whatsapp:{appt.contact.phone}"
    assert sent["Body"].startswith("Hi ") and "ContentSid" not in sent


def test_outside_the_window_the_approved_content_template_goes(tmp_path: Path, fake: TwilioFake) -> None:
    messaging, windows, _ = _engine(tmp_path, fake)
    appt = appointment(email=None).model_copy(deep=True)
    appt.contact.name = "Pat Doe"
    # the customer wrote 25 hours ago: the window has closed
    windows.record_inbound(_phone_key(appt), datetime.now(UTC) - timedelta(hours=25))
    result = messaging.send_message(_request(appt, [Channel.whatsapp, Channel.sms]))
    assert (result.status, result.channel) == ("sent", Channel.whatsapp)
    [sent] = _sends(fake)
    assert sent["ContentSid"] == CONTENT_SID and "Body" not in sent
    variables = json.loads(sent["ContentVariables"])
    assert set(variables) == {"1", "2"} and variables["1"] == "Pat" and variables["2"]


def test_outside_the_window_without_a_content_template_the_next_channel_goes(tmp_path: Path,
                                                                             fake: TwilioFake) -> None:
    messaging, _, _ = _engine(tmp_path, fake)
    plain = WHATSAPP_FIRST.model_copy(update={"content_sid": None, "content_variables": []})
    result = messaging.send_message(_request(appointment(email=None), [Channel.whatsapp, Channel.sms], plain))
    assert (result.status, result.channel) == ("sent", Channel.sms)
    [sent] = _sends(fake)
    assert not sent["To"].startswith("whatsapp:")


def test_a_63016_refusal_falls_back_to_sms_and_closes_the_window(tmp_path: Path, fake: TwilioFake) -> None:
    messaging, windows, ledger = _engine(tmp_path, fake)
    appt = appointment(email=None)
    # the engine believes the customer wrote an hour ago, Twilio knows better (it never saw that message)
    windows.record_inbound(_phone_key(appt), datetime.now(UTC) - timedelta(hours=1))
    result = messaging.send_message(_request(appt, [Channel.whatsapp, Channel.sms]))
    assert (result.status, result.channel) == ("sent", Channel.sms)
    refused, sms = _sends(fake)
    assert refused["To"].startswith("whatsapp:") and "Body" in refused
    assert not sms["To"].startswith("whatsapp:")
    assert [(e.type, e.channel, e.reason) for e in ledger.events if e.type == "message_failed"] == [
        ("message_failed", Channel.whatsapp, "63016")]
    assert windows.last_inbound(_phone_key(appt)) is None
    # the next step to that number uses the template, not free text
    again = messaging.send_message(_request(appt, [Channel.whatsapp, Channel.sms]))
    assert (again.status, again.channel) == ("sent", Channel.whatsapp)
    assert _sends(fake)[-1]["ContentSid"] == CONTENT_SID


def test_the_booked_through_channel_goes_first_when_the_program_prefers_it(tmp_path: Path,
                                                                          fake: TwilioFake) -> None:
    messaging, _, _ = _engine(tmp_path, fake)
    appt = appointment(email=None).model_copy(update={"booked_via": Channel.whatsapp})
    result = messaging.send_message(_request(appt, [Channel.sms, Channel.whatsapp], prefer_booked=True))
    assert (result.status, result.channel) == ("sent", Channel.whatsapp)
    other = appointment(email=None).model_copy(update={"booked_via": Channel.whatsapp})
    result = messaging.send_message(_request(other, [Channel.sms, Channel.whatsapp], prefer_booked=False))
    assert (result.status, result.channel) == ("sent", Channel.sms)


# ---------------------------------------------------------------- the connector and the policy schema


def test_the_connector_sends_content_without_body_and_maps_63016(fake: TwilioFake) -> None:
    twilio = _twilio(fake)
    message = OutboundMessage(message_id="m-1", case_id="case-1", channel=Channel.whatsapp, to="+15557654321",
                              body="fallback text", content_sid=CONTENT_SID,
                              content_variables={"1": "Pat", "2": "Tue 10:00"})
    twilio.send(message)
    sent = _sends(fake)[-1]
    assert sent["ContentSid"] == CONTENT_SID and json.loads(sent["ContentVariables"]) == {"1": "Pat",
                                                                                           "2": "Tue 10:00"}
    assert "Body" not in sent
    with pytest.raises(PermanentProviderError) as refused:
        twilio.send(message.model_copy(update={"message_id": "m-2", "content_sid": None, "content_variables": None}))
    assert refused.value.code == "63016" and refused.value.window_closed and not refused.value.opt_out


def test_content_sids_are_for_whatsapp_templates_only() -> None:
    with pytest.raises(ValidationError):
        Template(id="t", channel=Channel.sms, body="Hi", content_sid=CONTENT_SID)
    with pytest.raises(ValidationError):
        Template(id="t", channel=Channel.whatsapp, body="Hi", content_sid="HXnot-a-sid")
    with pytest.raises(ValidationError):
        Template(id="t", channel=Channel.whatsapp, body="Hi", content_variables=["first_name"])


# ---------------------------------------------------------------- the window from the engine's intake


async def test_an_inbound_whatsapp_message_opens_the_window_for_its_number(client: Client, tmp_path: Path) -> None:
    deps = build_dependencies(local_settings(tmp_path / "data"))
    at = datetime.now(UTC).replace(microsecond=0)
    reply = Reply(reply_id="SM" + "7" * 32, channel=Channel.whatsapp, text="is Tuesday free?", received_at=at)
    await ReplyRouter(client, deps).submit(reply, sender="whatsapp:+14155550100")
    key = address_key("+14155550100", deps.settings.auth.id_salt)
    assert WhatsAppWindows(deps.db).last_inbound(key) == at
    sms = Reply(reply_id="SM" + "8" * 32, channel=Channel.sms, text="hello", received_at=at + timedelta(hours=1))
    await ReplyRouter(client, deps).submit(sms, sender="+14155550100")
    assert WhatsAppWindows(deps.db).last_inbound(key) == at  # an SMS opens no WhatsApp window


def test_a_63016_in_a_status_callback_closes_the_window(tmp_path: Path) -> None:
    deps = build_dependencies(local_settings(tmp_path / "data"))
    phone = "+14155550100"
    key = address_key(phone, deps.settings.auth.id_salt)
    windows = WhatsAppWindows(deps.db)
    windows.record_inbound(key, datetime.now(UTC) - timedelta(hours=2))
    message = OutboundMessage(message_id="case-x-step0", case_id="case-x", channel=Channel.whatsapp, to=phone,
                              body="Hi")
    deps.outbox.send(message, contact_key="contact-x")
    record_delivery_status(deps, DeliveryStatus(provider_message_id="SM" + "9" * 32, status="undelivered",
                                                at=datetime.now(UTC), error_code="63016",
                                                message_id=message.message_id, recipient=phone))
    assert windows.last_inbound(key) is None
