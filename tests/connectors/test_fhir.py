"""The FHIR R4 connector against the fake FHIR server: SMART Backend Services tokens (discovery, RS384 / ES384
assertions checked by the server), the Appointment poll with its cursor and paging, Slot availability, booking,
cancel and no-show by status patch, Subscription notifications, error mapping, and health data kept out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from activities.reconcile import diff
from connectors.contract import (
    PermanentProviderError,
    RawRequest,
    RetryableProviderError,
    SignatureError,
    SlotUnavailable,
)
from connectors.fhir.auth import SmartBackendToken
from connectors.fhir.calendar import BOOKING_SYSTEM, FhirCalendar
from connectors.fhir.client import FhirClient
from connectors.fhir.inbound import FhirSubscriptionInbound
from connectors.fhir.settings import scope_problem
from connectors.fhir.source import FhirSource, fhir_instant
from connectors.oauth import MemoryTokenStore, SmartBackendGrant, TokenManager, jwt_signing_input
from domain.models import Slot
from tests.fakes.fhir_fake import FakeFhir

FIXTURES = Path(__file__).parent / "fixtures" / "fhir"
SCOPE = "system/Appointment.rs system/Appointment.cu system/Slot.rs system/Patient.r"
CLINICAL = ("Major depressive disorder", "Psychiatry follow-up", "35489007", "Sertraline review")


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> tuple[str, str]:
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


RSA_PRIVATE, RSA_PUBLIC = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
EC_PRIVATE, EC_PUBLIC = _pem(ec.generate_private_key(ec.SECP384R1()))


@pytest.fixture
def fhir() -> Iterator[FakeFhir]:
    with FakeFhir(public_key_pem=RSA_PUBLIC) as fake:
        yield fake


def smart_token(fake: FakeFhir, key: str = RSA_PRIVATE, alg: str = "RS384", scope: str = SCOPE) -> SmartBackendToken:
    store = MemoryTokenStore()
    return SmartBackendToken(fake.base_url, "noshow-backend", key, "key-1", scope,
                             lambda url, grant: TokenManager("fhir", "noshow-backend", url, grant, store),
                             algorithm=alg)


def client(fake: FakeFhir) -> FhirClient:
    return FhirClient(fake.static_token(), fake.base_url, timeout=2.0)


# ---------------------------------------------------------------------------- SMART Backend Services


def test_assertion_signing_input_matches_the_smart_vector() -> None:
    # header and claims in the order SMART's example shows; the expected text is base64url of both
    grant = SmartBackendGrant("my-client-id", "https://fhir.epic.com/interconnect-fhir-oauth/oauth2/token",
                              RSA_PRIVATE, "my-key-1", SCOPE, nonce=lambda: "2b7c3d1e-0c1a-4f5e-9a77-1d2e3f4a5b6c")
    at = datetime.fromtimestamp(1767225900, UTC) - grant.lifetime
    assertion = grant.assertion(at)
    expected = ("eyJhbGciOiJSUzM4NCIsImtpZCI6Im15LWtleS0xIiwidHlwIjoiSldUIn0.eyJpc3MiOiJteS1jbGllbnQtaWQiLCJzdWIiOiJ"
                "teS1jbGllbnQtaWQiLCJhdWQiOiJodHRwczovL2ZoaXIuZXBpYy5jb20vaW50ZXJjb25uZWN0LWZoaXItb2F1dGgvb2F1dGgy"
                "L3Rva2VuIiwianRpIjoiMmI3YzNkMWUtMGMxYS00ZjVlLTlhNzctMWQyZTNmNGE1YjZjIiwiZXhwIjoxNzY3MjI1OTAwfQ")
    assert assertion.rsplit(".", 1)[0] == expected
    assert grant.lifetime <= timedelta(minutes=5)
    form = grant.form(None, at)
    assert form["grant_type"] == "client_credentials" and form["scope"] == SCOPE
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert jwt_signing_input({"a": 1}, {"b": 2}) == "eyJhIjoxfQ.eyJiIjoyfQ"


@pytest.mark.parametrize(("private", "public", "alg"), [(RSA_PRIVATE, RSA_PUBLIC, "RS384"),
                                                         (EC_PRIVATE, EC_PUBLIC, "ES384")])
def test_token_from_discovery_with_a_signed_assertion(private: str, public: str, alg: str) -> None:
    with FakeFhir(public_key_pem=public) as fake:
        token = smart_token(fake, private, alg)
        pid = fake.add_patient(phone="+15550100")
        found = FhirClient(token, fake.base_url, timeout=2.0).read("Patient", pid)
        assert found["id"] == pid
        (sent,) = fake.calls("POST", "/oauth2/token")
        form = sent.form()
        assert form["scope"] == SCOPE and "client_secret" not in form
        assert fake.calls("GET", "/.well-known/smart-configuration")
        FhirClient(token, fake.base_url, timeout=2.0).read("Patient", pid)
        assert len(fake.calls("POST", "/oauth2/token")) == 1  # kept until near its expiry


def test_a_revoked_token_is_granted_again_once(fhir: FakeFhir) -> None:
    token = smart_token(fhir)
    api = FhirClient(token, fhir.base_url, timeout=2.0)
    pid = fhir.add_patient(email="p@example.org")
    api.read("Patient", pid)
    fhir.tokens.clear()  # revoked at the server before its expiry
    assert api.read("Patient", pid)["id"] == pid
    grants = fhir.calls("POST", "/oauth2/token")
    assert len(grants) == 2 and grants[0].form()["client_assertion"] != grants[1].form()["client_assertion"]
    assert len(fhir.seen_jti) == 2  # a new jti for every assertion
    fhir.tokens.clear()
    fhir.public_key = None  # and a server that no longer accepts the key: the refusal is permanent
    with pytest.raises(PermanentProviderError):
        api.read("Patient", pid)


def test_a_key_the_server_does_not_know_is_refused(fhir: FakeFhir) -> None:
    other, _ = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with pytest.raises(PermanentProviderError) as refused:
        smart_token(fhir, other)()
    assert refused.value.code == "invalid_client"


def test_the_server_refuses_a_replayed_assertion(fhir: FakeFhir) -> None:
    grant = SmartBackendGrant("noshow-backend", f"{fhir.base_url}/oauth2/token", RSA_PRIVATE, "key-1", SCOPE,
                              nonce=lambda: "same-jti")
    first = TokenManager("fhir", "a", f"{fhir.base_url}/oauth2/token", grant, MemoryTokenStore())
    assert first()
    again = TokenManager("fhir", "b", f"{fhir.base_url}/oauth2/token", grant, MemoryTokenStore())
    with pytest.raises(PermanentProviderError):
        again()


def test_scopes_v2_and_v1_accepted_others_refused() -> None:
    assert scope_problem("system/Appointment.rs system/Slot.rs system/Patient.r") is None
    assert scope_problem("system/Appointment.read system/Patient.read") is None
    assert scope_problem("patient/Appointment.rs") is not None
    assert scope_problem("system/Appointment.sr") is not None
    with pytest.raises(ValueError):
        SmartBackendGrant("c", "https://t/token", RSA_PRIVATE, "k", SCOPE, alg="RS256")


# ---------------------------------------------------------------------------- the poll


def test_poll_pages_maps_statuses_and_keeps_health_data_out(fhir: FakeFhir) -> None:
    pid = fhir.add_patient(phone="+15550111", email="peter@example.org")
    start = datetime.now(UTC) + timedelta(days=1)
    clinical = {"reasonCode": [{"coding": [{"system": "http://snomed.info/sct", "code": "35489007"}],
                                "text": "Major depressive disorder"}],
                "serviceType": [{"text": "Psychiatry follow-up"}], "description": "Sertraline review"}
    booked = fhir.add_appointment(pid, start, extra=clinical)
    missed = fhir.add_appointment(pid, start - timedelta(days=2), status="noshow", extra=clinical)
    seen = fhir.add_appointment(pid, start - timedelta(days=3), status="fulfilled")
    by_clinic = fhir.add_appointment(pid, start + timedelta(days=1), status="cancelled", extra={
        "cancelationReason": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                          "appointment-cancellation-reason", "code": "prov-pers"}]}})
    fhir.add_appointment(pid, start, status="proposed")
    page = FhirSource(client(fhir)).poll(None, datetime.now(UTC) + timedelta(minutes=5))
    status = {s.appointment.appointment_id: s.status for s in page.snapshots}
    assert status == {booked: "active", missed: "no_show", seen: "attended", by_clinic: "cancelled"}
    assert len(fhir.calls("GET", "/Patient/")) == 1  # read once per poll
    assert fhir.calls("GET", "/?") or any("_getpages" in r.raw_query for r in fhir.calls("GET"))  # paged
    snap = next(s for s in page.snapshots if s.appointment.appointment_id == by_clinic)
    assert snap.signal is not None and snap.signal.participant == "host"
    contact = page.snapshots[0].appointment.contact
    assert (contact.contact_id, contact.phone, contact.email, contact.name) == (f"fhir:{pid}", "+15550111",
                                                                                 "peter@example.org", None)
    dumped = json.dumps([s.model_dump(mode="json") for s in page.snapshots])
    assert not [c for c in CLINICAL if c in dumped] and "Chalmers" not in dumped
    assert {s.appointment.appointment_type for s in page.snapshots} == {"appointment"}
    first_query = fhir.calls("GET", "/Appointment")[0]
    assert first_query.params("_lastUpdated")[0].startswith("gt")


def test_poll_resumes_from_its_cursor(fhir: FakeFhir) -> None:
    pid = fhir.add_patient(phone="+15550112")
    source = FhirSource(client(fhir))
    aid = fhir.add_appointment(pid, datetime.now(UTC) + timedelta(days=1))
    later = datetime.now(UTC) + timedelta(minutes=5)
    first = source.poll(None, later)
    assert [s.appointment.appointment_id for s in first.snapshots] == [aid]
    second = source.poll(first.cursor, later)
    assert second.snapshots == []
    fhir.update_appointment(aid, status="noshow")
    third = source.poll(second.cursor, later + timedelta(minutes=5))
    assert [s.status for s in third.snapshots] == ["no_show"]
    assert fhir.calls("GET", "/Appointment")[-1].params("_lastUpdated") == [
        "gt" + fhir_instant(datetime.fromisoformat(second.cursor or ""))]


def test_the_reconcile_event_of_a_provider_cancel_says_the_business_cancelled(fhir: FakeFhir) -> None:
    pid = fhir.add_patient(phone="+15550113")
    fhir.add_appointment(pid, datetime.now(UTC) + timedelta(days=2), status="cancelled", extra={
        "cancelationReason": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                          "appointment-cancellation-reason", "code": "prov-hosp"}],
                              "text": "Major depressive disorder"}})
    (snap,) = FhirSource(client(fhir)).poll(None, datetime.now(UTC) + timedelta(minutes=5)).snapshots
    event = diff(snap, None, datetime.now(UTC), timedelta(days=7), baseline=False)
    assert event is not None and event.signal is not None and event.signal.value == "business"
    assert "Major depressive" not in event.model_dump_json()


def test_a_next_link_to_another_server_is_not_followed(fhir: FakeFhir) -> None:
    fhir.fail_next(200, {"resourceType": "Bundle", "type": "searchset", "entry": [],
                         "link": [{"relation": "next", "url": "https://elsewhere.example/fhir/?page=2"}]})
    with pytest.raises(PermanentProviderError) as stopped:
        list(client(fhir).search("Appointment", {}))
    assert stopped.value.code == "foreign_link"


# ---------------------------------------------------------------------------- calendar


def test_busy_book_cancel_and_no_show_shaped_as_fhir_documents(fhir: FakeFhir) -> None:
    pid = fhir.add_patient(phone="+15550114")
    day = (datetime.now(UTC) + timedelta(days=3)).replace(hour=14, minute=0, second=0, microsecond=0)
    sid = fhir.add_slot("sch-1", day)
    calendar = FhirCalendar(client(fhir), schedule_id="sch-1")
    busy = calendar.busy("fhir", day - timedelta(hours=1), day + timedelta(hours=1))
    assert [(b.start, b.end) for b in busy] == [(day - timedelta(hours=1), day),
                                               (day + timedelta(minutes=30), day + timedelta(hours=1))]
    slot_query = fhir.calls("GET", "/Slot")[0]
    assert slot_query.query["schedule"] == "Schedule/sch-1" and slot_query.query["status"] == "free"
    assert [p[:2] for p in slot_query.params("start")] == ["ge", "lt"]
    slot = Slot(start=day, end=day + timedelta(minutes=30), calendar_id="fhir")
    made = calendar.book(slot, "case-1", "Psychiatry follow-up", f"fhir:{pid}", "key-1")
    (create,) = fhir.calls("POST", "/Appointment")
    body = create.json()
    assert body["status"] == "booked" and body["slot"] == [{"reference": f"Slot/{sid}"}]
    assert body["participant"][0] == {"actor": {"reference": f"Patient/{pid}"}, "status": "accepted"}
    assert body["identifier"][0]["system"] == BOOKING_SYSTEM
    assert "Psychiatry" not in create.body.decode()
    assert fhir.slots[sid]["status"] == "busy"
    # a retry after the create went through finds its own appointment instead of booking twice
    assert calendar.book(slot, "case-1", "x", f"fhir:{pid}", "key-1") == made
    assert len(fhir.calls("POST", "/Appointment")) == 1
    with pytest.raises(SlotUnavailable):
        calendar.book(slot, "case-2", "x", f"fhir:{pid}", "key-2")
    assert calendar.mark_no_show(made, None) is True
    calendar.cancel("fhir", made)
    patches = fhir.calls("PATCH", f"/Appointment/{made}")
    assert [p.json() for p in patches] == [[{"op": "replace", "path": "/status", "value": "noshow"}],
                                           [{"op": "replace", "path": "/status", "value": "cancelled"}]]
    assert patches[0].headers["content-type"] == "application/json-patch+json"
    assert patches[0].headers["if-match"] == 'W/"1"' and patches[1].headers["if-match"] == 'W/"2"'
    assert fhir.appointments[made]["status"] == "cancelled"
    assert calendar.mark_no_show("gone", None) is False


def test_a_create_whose_answer_is_lost_finds_its_own_appointment(fhir: FakeFhir) -> None:
    pid = fhir.add_patient(phone="+15550115")
    day = (datetime.now(UTC) + timedelta(days=4)).replace(hour=10, minute=0, second=0, microsecond=0)
    fhir.add_slot("sch-1", day)
    fhir.answer_late = 1.5
    calendar = FhirCalendar(FhirClient(fhir.static_token(), fhir.base_url, timeout=0.5), schedule_id="sch-1")
    made = calendar.book(Slot(start=day, end=day + timedelta(minutes=30), calendar_id="fhir"), "case-3", "t",
                         f"fhir:{pid}", "key-3")
    assert list(fhir.appointments) == [made]
    assert fhir.calls("GET", "/Appointment")[-1].params("identifier")[0].startswith(BOOKING_SYSTEM + "|")


def test_booking_a_customer_from_another_source_is_refused(fhir: FakeFhir) -> None:
    slot = Slot(start=datetime.now(UTC), end=datetime.now(UTC), calendar_id="x")
    with pytest.raises(PermanentProviderError) as refused:
        FhirCalendar(client(fhir), schedule_id="sch-1").book(slot, "c", "t", "calcom:abc", "k")
    assert refused.value.code == "no_contact"


# ---------------------------------------------------------------------------- errors


def test_errors_map_onto_the_contract(fhir: FakeFhir) -> None:
    api = client(fhir)
    fhir.rate_limit_next(retry_after="30")
    with pytest.raises(RetryableProviderError) as limited:
        api.read("Patient", "x")
    assert limited.value.retry_after == 30
    fhir.fail_next(503)
    with pytest.raises(RetryableProviderError):
        api.read("Patient", "x")
    with pytest.raises(PermanentProviderError) as missing:
        api.read("Patient", "nobody")
    assert missing.value.code == "not-found"  # the OperationOutcome's issue code
    narrow = FhirClient(fhir.static_token("narrow", "system/Patient.r"), fhir.base_url, timeout=2.0)
    with pytest.raises(PermanentProviderError) as forbidden:
        list(narrow.search("Appointment", {}))
    assert forbidden.value.code == "forbidden"


# ---------------------------------------------------------------------------- subscriptions


def _notification(name: str, token: str = "sub-token") -> RawRequest:
    return RawRequest(method="POST", url="https://example.com/webhooks/fhir", body=(FIXTURES / name).read_bytes(),
                      headers={"content-type": "application/fhir+json", "authorization": f"Bearer {token}"})


def test_id_only_notification_asks_for_the_poll() -> None:
    inbound = FhirSubscriptionInbound("sub-token")
    request = _notification("notification_id_only.json")
    inbound.verify(request, datetime.now(UTC))
    result = inbound.parse(request)
    assert result.sync_sources == ["fhir"] and result.events == [] and result.unknown_types == []
    assert result.dedupe_key and result.dedupe_key.endswith(":event-notification:2")
    handshake = inbound.parse(_notification("notification_handshake.json"))
    assert handshake.sync_sources == [] and handshake.unknown_types == []
    encounter = inbound.parse(_notification("notification_encounter.json"))
    assert encounter.sync_sources == [] and encounter.unknown_types == ["notification.Encounter"]
    with pytest.raises(SignatureError):
        FhirSubscriptionInbound("sub-token").verify(_notification("notification_id_only.json", "guess"),
                                                    datetime.now(UTC))
