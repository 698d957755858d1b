"""What the providers' own material asks of our requests: Cal.com bookings carry the attendee's phone and the
answers to required booking questions (and a refusal for missing data is not "time taken"); Google calendar ids
and Graph user ids are escaped as path segments; Standard Webhooks secrets without padding and asymmetric
`v1a` signatures verify as the official `standardwebhooks` SDK does."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from standardwebhooks.webhooks import Webhook

from connectors.calcom.calendar import CalcomCalendar
from connectors.calcom.client import CalcomClient
from connectors.contract import PermanentProviderError, RawRequest, SignatureError, SlotUnavailable
from connectors.google.calendar import GoogleCalendar
from connectors.google.client import GoogleCalendarClient
from connectors.outlook.calendar import OutlookCalendar
from connectors.outlook.client import OutlookClient
from connectors.standard_webhooks import StandardWebhooksInbound, public_key_of, sign
from domain.models import Contact, Slot
from tests.fakes.providers import FakeCalcom, FakeGoogleCalendar, FakeGraph

START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
JANE = Contact(contact_id="calcom:ak-jane", name="Jane Doe", email="jane@example.com", phone="+15551234567",
               timezone="UTC")


def _slot(calendar_id: str) -> Slot:
    return Slot(start=START, end=START + timedelta(minutes=30), calendar_id=calendar_id)


# ---------------------------------------------------------------------------- Cal.com create booking


def test_calcom_booking_sends_the_attendee_phone_and_required_booking_answers() -> None:
    # https://cal.com/docs/api-reference/v2/bookings/create-a-booking: attendee.phoneNumber, bookingFieldsResponses
    with FakeCalcom() as fake:
        fake.free = [START]
        fake.phone_required = True
        fake.required_fields = {"company"}
        cal = CalcomCalendar(CalcomClient("cal_test", base_url=fake.base_url + "/v2"), lambda _c: JANE,
                             booking_fields={"company": "Rebooked by the clinic"})
        uid = cal.book(_slot("7"), "case-1", "30min", JANE.contact_id, "case-1:book")
        assert uid in fake.bookings
        (sent,) = [r.json() for r in fake.calls("POST", "/v2/bookings")]
        assert sent["attendee"]["phoneNumber"] == "+15551234567"
        assert sent["bookingFieldsResponses"] == {"company": "Rebooked by the clinic"}


def test_calcom_refusal_for_a_missing_booking_question_is_permanent_not_time_taken() -> None:
    with FakeCalcom() as fake:
        fake.free = [START]
        fake.required_fields = {"insurance_number"}
        cal = CalcomCalendar(CalcomClient("cal_test", base_url=fake.base_url + "/v2"), lambda _c: JANE)
        with pytest.raises(PermanentProviderError) as info:
            cal.book(_slot("7"), "case-1", "30min", JANE.contact_id, "case-1:book")
        assert not isinstance(info.value, SlotUnavailable)
        assert info.value.code == "booking_field_required"
        # a phone the contact does not have is the same kind of refusal
        fake.required_fields = set()
        fake.phone_required = True
        no_phone = JANE.model_copy(update={"phone": None})
        cal = CalcomCalendar(CalcomClient("cal_test", base_url=fake.base_url + "/v2"), lambda _c: no_phone)
        with pytest.raises(PermanentProviderError) as info:
            cal.book(_slot("7"), "case-2", "30min", JANE.contact_id, "case-2:book")
        assert info.value.code == "booking_field_required"
        # and a time that is really taken stays SlotUnavailable (the engine re-offers)
        fake.phone_required = False
        fake.taken_meanwhile = {START}
        with pytest.raises(SlotUnavailable):
            cal.book(_slot("7"), "case-3", "30min", JANE.contact_id, "case-3:book")


# ---------------------------------------------------------------------------- path segments


def test_google_calendar_ids_are_escaped_in_the_path() -> None:
    holidays = "en.usa#holiday@group.v.calendar.google.com"  # Google's public holiday calendar id
    with FakeGoogleCalendar() as fake:
        cal = GoogleCalendar(GoogleCalendarClient("tok", base_url=fake.base_url + "/calendar/v3"), lambda _c: JANE)
        event_id = cal.book(_slot(holidays), "case-1", "consultation", JANE.contact_id, "case-1:book")
        (insert,) = fake.calls("POST", "/events")
        assert insert.path == f"/calendar/v3/calendars/{holidays}/events"
        assert "%23holiday%40group" in insert.raw_path
        assert event_id in fake.events


def test_graph_user_ids_are_escaped_in_the_path() -> None:
    guest_upn = "jane_example.com#EXT#@contoso.onmicrosoft.com"  # how Entra ID names a guest account
    with FakeGraph() as fake:
        cal = OutlookCalendar(OutlookClient("tok", base_url=fake.base_url + "/v1.0"), lambda _c: JANE)
        cal.book(_slot(guest_upn), "case-1", "consultation", JANE.contact_id, "case-1:book")
        (create,) = fake.calls("POST", "/events")
        assert create.path == f"/v1.0/users/{guest_upn}/events"
        assert "%23EXT%23@contoso" in create.raw_path


# ---------------------------------------------------------------------------- Standard Webhooks keys

NOW = datetime(2026, 1, 6, 15, 30, tzinfo=UTC)
BODY = (b'{"type":"appointment.no_show","timestamp":"2026-01-06T15:00:00Z","data":{"appointment":{"source":"webhook",'
        b'"appointment_id":"A-1","appointment_type":"consultation","start":"2026-01-06T14:00:00Z",'
        b'"end":"2026-01-06T14:30:00Z","contact":{"contact_id":"C-1"}}}}')


def _request(headers: dict[str, str], body: bytes = BODY) -> RawRequest:
    return RawRequest(method="POST", url="https://example.com/webhooks/events", headers=headers, body=body)


def test_a_secret_without_base64_padding_is_accepted_like_the_sdk_does() -> None:
    unpadded = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcde").decode().rstrip("=")
    assert not unpadded.endswith("=")
    ts = int(NOW.timestamp())
    # signed by the official SDK, which pads the secret before decoding it
    signature = Webhook(unpadded).sign("msg_1", NOW, BODY.decode())
    StandardWebhooksInbound(unpadded).verify(_request(
        {"webhook-id": "msg_1", "webhook-timestamp": str(ts), "webhook-signature": signature}), NOW)
    with pytest.raises(ValueError):
        StandardWebhooksInbound("whsec_not*base64")


def test_asymmetric_v1a_signatures_verify_with_a_whpk_public_key() -> None:
    private = Ed25519PrivateKey.generate()
    whsk = "whsk_" + base64.b64encode(private.private_bytes_raw()).decode()
    whpk = public_key_of(whsk)
    ts = int(NOW.timestamp())
    headers = {"webhook-id": "msg_2", "webhook-timestamp": str(ts), "webhook-signature": sign(whsk, "msg_2", ts, BODY)}
    assert headers["webhook-signature"].startswith("v1a,")
    # the signature is a plain ed25519 signature over "id.timestamp.body"
    raw_sig = base64.b64decode(headers["webhook-signature"].split(",", 1)[1])
    private.public_key().verify(raw_sig, f"msg_2.{ts}.".encode() + BODY)
    inbound = StandardWebhooksInbound(["whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", whpk])
    inbound.verify(_request(headers), NOW)
    assert [e.type.value for e in inbound.parse(_request(headers)).events] == ["appointment.no_show"]
    # tampering, another key, and a v1a entry presented as v1 are all refused
    with pytest.raises(SignatureError):
        StandardWebhooksInbound(whpk).verify(_request(headers, BODY.replace(b"A-1", b"A-2")), NOW)
    other = "whpk_" + base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes_raw()).decode()
    with pytest.raises(SignatureError):
        StandardWebhooksInbound(other).verify(_request(headers), NOW)
    as_v1 = {**headers, "webhook-signature": "v1," + headers["webhook-signature"].split(",", 1)[1]}
    with pytest.raises(SignatureError):
        StandardWebhooksInbound(whpk).verify(_request(as_v1), NOW)
