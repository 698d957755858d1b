"""Salesforce against its fake org: the JWT bearer grant (RS256, verified with the app's key; the instance URL
from the token response), session expiry, LastModifiedDate polling with a cursor, and CRM writes that never
create twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.contract import PermanentProviderError
from connectors.local.db import LocalDb
from connectors.local.remote_creates import CreateLog
from connectors.oauth import _b64url
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.crm import SalesforceCrm, marker
from connectors.salesforce.source import EVENT, SERVICE_APPOINTMENT, SalesforceSource
from policies.schema import CrmRules
from tests.connectors.cases_salesforce import (
    AUDIENCE,
    CONSUMER_KEY,
    KEY_PEM,
    OTHER_KEY_PEM,
    USERNAME,
    fake_org,
    token_manager,
)
from tests.connectors.kit import fixture_json

NOW = datetime(2026, 1, 6, 16, 0, tzinfo=UTC)


def test_the_documented_signing_input_is_what_the_grant_signs() -> None:
    # the header and claims of Salesforce's JWT bearer flow, encoded as simple-salesforce does (exp as a string)
    head = _b64url(json.dumps({"alg": "RS256"}, separators=(",", ":")).encode())
    claims = _b64url(json.dumps({"iss": CONSUMER_KEY, "sub": USERNAME, "aud": AUDIENCE, "exp": "1767225780"},
                                separators=(",", ":")).encode())
    assert f"{head}.{claims}" == (
        "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIzTVZHOS4uLmNvbnN1bWVya2V5Iiwic3ViIjoiaW50ZWdyYXRpb25AZXhhbXBsZS5jb20iLCJhdWQiOiJ"
        "odHRwczovL2xvZ2luLnNhbGVzZm9yY2UuY29tIiwiZXhwIjoiMTc2NzIyNTc4MCJ9")


def test_the_jwt_grant_is_accepted_and_the_instance_url_comes_from_the_token_response() -> None:
    with fake_org() as fake:
        client = SalesforceClient(token_manager(fake))  # no instance URL configured
        assert "sobjects" in client.resources()
        (grant,) = fake.calls("POST", "/services/oauth2/token")
        assert grant.form()["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        assert fake.calls("GET", "/services/data/v62.0/")[0].headers["authorization"].startswith("Bearer 00D")


@pytest.mark.parametrize("key_pem, consumer_key, code", [(OTHER_KEY_PEM, CONSUMER_KEY, "invalid_grant"),
                                                         (KEY_PEM, "another-app", "invalid_client_id")])
def test_a_grant_signed_with_another_key_or_for_another_app_is_refused(key_pem: str, consumer_key: str,
                                                                       code: str) -> None:
    with fake_org() as fake:
        manager = token_manager(fake, key_pem, consumer_key)
        with pytest.raises(PermanentProviderError) as info:
            SalesforceClient(manager).resources()
        assert info.value.code == code
        assert not fake.calls("GET")


def test_an_expired_session_repeats_the_grant_once() -> None:
    with fake_org() as fake:
        client = SalesforceClient(token_manager(fake))
        client.resources()
        fake.revoke_all()
        client.resources()
        assert len(fake.calls("POST", "/services/oauth2/token")) == 2
        # a session refused right after a fresh grant is a permanent refusal, not a loop
        fake.honour_sessions = False
        with pytest.raises(PermanentProviderError) as info:
            client.resources()
        assert info.value.code == "INVALID_SESSION_ID"
        assert len(fake.calls("POST", "/services/oauth2/token")) == 3


def test_documented_query_rows_become_snapshots() -> None:
    source = SalesforceSource(SalesforceClient("unused", instance_url="http://127.0.0.1:9"))
    rows = fixture_json("salesforce", "query_service_appointments.json")["records"]
    missed, upcoming = (source.snapshot(SERVICE_APPOINTMENT, r) for r in rows)
    assert missed is not None and upcoming is not None
    assert (missed.status, upcoming.status) == ("no_show", "active")
    assert missed.appointment.contact.contact_id == "salesforce:003XX000004TmiQYAS"
    assert missed.appointment.contact.phone == "+15555550101"
    assert missed.appointment.start == datetime(2026, 1, 6, 14, 0, tzinfo=UTC)
    (deleted,) = fixture_json("salesforce", "queryall_events.json")["records"]
    event = source.snapshot(EVENT, deleted)
    assert event is not None and event.status == "cancelled"
    assert event.appointment.contact.contact_id == "salesforce:00QXX000002cTqYYAU"


def test_polling_follows_pages_and_resumes_from_the_cursor_per_object() -> None:
    with fake_org(page_size=2) as fake:
        person = fake.add("Contact", {"Name": "Rose Gonzalez", "Email": "rose@example.com",
                                      "MobilePhone": "+15555550101"})
        for i, status in enumerate(["Scheduled", "Cannot Complete", "Completed", "Canceled", "Dispatched"]):
            fake.add("ServiceAppointment", {"Status": status, "ContactId": person,
                                            "SchedStartTime": f"2026-01-0{i + 2}T14:00:00.000+0000",
                                            "SchedEndTime": f"2026-01-0{i + 2}T15:00:00.000+0000",
                                            "LastModifiedDate": f"2026-01-06T1{i}:00:00.000+0000"})
        fake.add("Event", {"Subject": "Demo", "WhoId": person, "StartDateTime": "2026-01-07T10:00:00.000+0000",
                           "EndDateTime": "2026-01-07T10:30:00.000+0000", "IsDeleted": True,
                           "LastModifiedDate": "2026-01-06T12:30:00.000+0000"})
        fake.add("Event", {"Subject": "Internal", "StartDateTime": "2026-01-07T10:00:00.000+0000",
                           "LastModifiedDate": "2026-01-06T12:30:00.000+0000"})  # no contact: not an appointment
        source = SalesforceSource(SalesforceClient(token_manager(fake)))
        page = source.poll(None, NOW)
        assert [s.status for s in page.snapshots] == ["active", "no_show", "attended", "cancelled", "active",
                                                       "cancelled"]
        assert len(fake.calls("GET", "/query/01gXX")) == 2  # five rows, two a page
        assert page.snapshots[1].appointment.contact.name == "Rose Gonzalez"
        cursor = json.loads(page.cursor or "{}")
        assert datetime.fromisoformat(cursor[SERVICE_APPOINTMENT]) == datetime(2026, 1, 6, 14, tzinfo=UTC)
        assert source.poll(page.cursor, NOW).snapshots == []
        fake.add("ServiceAppointment", {"Status": "Cannot Complete", "ContactId": person,
                                        "SchedStartTime": "2026-01-06T15:00:00.000+0000",
                                        "LastModifiedDate": "2026-01-06T15:30:00.000+0000"})
        again = source.poll(page.cursor, NOW)
        assert [s.status for s in again.snapshots] == ["no_show"]
        soql = fake.calls("GET", "/query/")[-1].query["q"]
        assert "LastModifiedDate > 2026-01-06T14:00:00Z" in soql


@pytest.fixture
def org_and_crm(tmp_path: Path):  # type: ignore[no-untyped-def]
    with fake_org() as fake:
        crm = SalesforceCrm(SalesforceClient(token_manager(fake)), CreateLog(LocalDb(tmp_path / "db.sqlite"),
                                                                             "salesforce"),
                            CrmRules(writable_fields=["outcome", "recovery_status"], protected_fields=["risk_flag"]),
                            default_owner="005XX000001SvR1YAK", clock=lambda: NOW)
        yield fake, crm


def test_outcome_fields_go_on_the_appointment_record_and_protected_ones_are_refused(org_and_crm) -> None:  # type: ignore[no-untyped-def]
    fake, crm = org_and_crm
    person = fake.add("Contact", {"Name": "Rose", "Email": "rose@example.com"})
    visit = fake.add("ServiceAppointment", {"Status": "Cannot Complete", "ContactId": person})
    crm.write_fields(f"salesforce:{person}", visit, {"outcome": "no_show", "recovery_status": "open"}, "k1")
    (patch,) = fake.calls("PATCH")
    assert patch.path.endswith(f"/sobjects/ServiceAppointment/{visit}")
    assert patch.json() == {"Noshow_Outcome__c": "no_show", "Noshow_Recovery_Status__c": "open"}
    assert crm.read_fields(f"salesforce:{person}", visit)["outcome"] == "no_show"
    with pytest.raises(PermanentProviderError) as info:
        crm.write_fields(f"salesforce:{person}", visit, {"risk_flag": "high"}, "k2")
    assert info.value.code == "protected_field" and len(fake.calls("PATCH")) == 1
    with pytest.raises(PermanentProviderError) as unknown:
        crm.write_fields("calcom:ak-1", "uid-1", {"outcome": "no_show"}, "k3")
    assert unknown.value.code == "unknown_contact"


def test_a_retried_task_or_note_is_created_once(org_and_crm) -> None:  # type: ignore[no-untyped-def]
    fake, crm = org_and_crm
    person = fake.add("Contact", {"Name": "Rose", "Email": "rose@example.com"})
    crm.create_task("cal-owner-7", "Call Rose back", "task-1", contact_id=f"salesforce:{person}")
    crm.create_task("cal-owner-7", "Call Rose back", "task-1", contact_id=f"salesforce:{person}")
    (task,) = fake.records["Task"].values()
    assert task["OwnerId"] == "005XX000001SvR1YAK" and task["WhoId"] == person
    assert task["Subject"].endswith(marker("task-1")) and task["ActivityDate"] == "2026-01-07"
    crm.append_note(f"salesforce:{person}", "Left a voicemail", "note-1")
    crm.append_note(f"salesforce:{person}", "Left a voicemail", "note-1")
    assert len(fake.records["Note"]) == 1 and len(fake.calls("POST", "/sobjects/")) == 2


def test_an_attempt_that_created_without_an_answer_is_found_by_its_marker(org_and_crm) -> None:  # type: ignore[no-untyped-def]
    fake, crm = org_and_crm
    # the first attempt's row was written and its POST reached Salesforce, but the answer was lost
    crm.creates._begin("task-9", "Task")
    fake.add("Task", {"Subject": f"Call back {marker('task-9')}"})
    crm.create_task(None, "Call back", "task-9")
    assert len(fake.records["Task"]) == 1 and not fake.calls("POST", "/sobjects/Task/")
    assert crm.creates.record_id("task-9")[1] in fake.records["Task"]


def test_a_contact_from_another_source_is_found_by_email(tmp_path: Path) -> None:
    from domain.models import Contact
    with fake_org() as fake:
        person = fake.add("Contact", {"Email": "o'neil@example.com"})
        crm = SalesforceCrm(SalesforceClient(token_manager(fake)), CreateLog(LocalDb(tmp_path / "d.sqlite"), "sf"),
                            contact_lookup=lambda cid: Contact(contact_id=cid, email="o'neil@example.com"))
        crm.append_note("calcom:ak-1", "note", "n-1")
        (note,) = fake.records["Note"].values()
        assert note["ParentId"] == person
        assert "Email = 'o\\'neil@example.com'" in fake.calls("GET", "/query/")[0].query["q"]


def test_the_first_poll_looks_back_one_day() -> None:
    with fake_org() as fake:
        SalesforceSource(SalesforceClient(token_manager(fake)), objects=[EVENT]).poll(None, NOW)
        soql = fake.calls("GET", "/queryAll/")[0].query["q"]
        assert f"LastModifiedDate > {(NOW - timedelta(days=1)).strftime('%Y-%m-%dT%H:%M:%SZ')}" in soql
