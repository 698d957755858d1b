"""Zoho CRM against its fake data centre: the refresh-token grant at the accounts server and `api_domain` from its
answer, a token refused early (INVALID_TOKEN) refreshed once, If-Modified-Since polling with a cursor and deleted
meetings, the watch channel kept open by the poll, and CRM writes: outcome fields on the meeting, notes and tasks
created once through the remote-create log, permanent and temporary refusals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.contract import PermanentProviderError, RetryableProviderError
from connectors.local.db import LocalDb
from connectors.local.remote_creates import CreateLog
from connectors.zoho.client import ZohoClient
from connectors.zoho.crm import ZohoCrm, marker
from connectors.zoho.source import ZohoChannelKeeper, ZohoSource
from domain.models import Contact
from policies.schema import CrmRules
from tests.connectors.cases_zoho import fake_zoho, token_manager
from tests.connectors.kit import fixture_json
from tests.fakes.zoho_fake import FakeZoho

NOW = datetime(2026, 1, 6, 16, 0, tzinfo=UTC)
TED = "5725767000000431001"


def _client(fake: FakeZoho) -> ZohoClient:
    return ZohoClient(token_manager(fake), default_domain="http://127.0.0.1:9")  # the token names the domain


def test_the_refresh_grant_names_the_api_domain_and_an_early_refusal_refreshes_once() -> None:
    with fake_zoho() as fake:
        fake.add("Contacts", {"id": TED, "Last_Name": "Watson", "Email": "ted@zylker.com"})
        client = _client(fake)
        assert client.get("Contacts", TED, ["Email"])["Email"] == "ted@zylker.com"
        (grant,) = fake.calls("POST", "/oauth/v2/token")
        assert grant.form()["grant_type"] == "refresh_token" and grant.form()["client_secret"] == "client-secret"
        assert fake.calls("GET", f"/crm/v7/Contacts/{TED}")[0].headers["authorization"].startswith("Zoho-oauthtoken ")
        fake.expire_tokens()  # revoked before its hour was up
        assert client.get("Contacts", TED, ["Email"])["Email"] == "ted@zylker.com"
        assert len(fake.calls("POST", "/oauth/v2/token")) == 2
        # refused right after a fresh token: permanent, and not a loop of refreshes
        fake.honour_tokens = False
        with pytest.raises(PermanentProviderError) as info:
            client.get("Contacts", TED, ["Email"])
        assert info.value.code == "INVALID_TOKEN"
        assert len(fake.calls("POST", "/oauth/v2/token")) == 3


def test_a_static_token_refused_is_not_sent_again() -> None:
    with fake_zoho() as fake:
        with pytest.raises(PermanentProviderError) as info:
            ZohoClient("1000.unknown", api_domain=fake.base_url).get("Contacts", TED, ["Email"])
        assert info.value.code == "INVALID_TOKEN"
        assert len(fake.calls("GET")) == 1


@pytest.mark.parametrize("status", [400, 200])
def test_an_unknown_refresh_token_is_a_permanent_refusal_with_zohos_code(status: int) -> None:
    with fake_zoho() as fake:
        fake.refusal_status = status
        with pytest.raises(PermanentProviderError) as info:
            ZohoClient(token_manager(fake, "1000.revoked")).get("Contacts", TED, ["Email"])
        assert info.value.code == "invalid_code"
        assert not fake.calls("GET")


def test_documented_records_become_snapshots_and_internal_meetings_are_skipped() -> None:
    with fake_zoho() as fake:
        fake.add("Contacts", {"id": TED, "Last_Name": "Watson", "Full_Name": "Ted Watson", "Email": "ted@zylker.com",
                              "Mobile": "+15555550123"})
        source = ZohoSource(_client(fake), outcome_field="Noshow_Outcome")
        people: dict[tuple[str, str], dict[str, object]] = {}
        missed, internal = (source.snapshot(r, people) for r in fixture_json("zoho", "events_records.json")["data"])
        assert internal is None
        assert missed is not None and missed.status == "no_show"
        assert missed.appointment.contact.contact_id == f"zoho:{TED}"
        assert missed.appointment.contact.phone == "+15555550123"
        assert missed.appointment.owner_id == "554023000000235011"
        assert missed.appointment.start == datetime(2026, 1, 6, 14, tzinfo=UTC)
        assert missed.changed_at == datetime(2026, 1, 6, 15, tzinfo=UTC)


def test_polling_sends_if_modified_since_follows_pages_and_resumes_from_the_cursor() -> None:
    with fake_zoho(page_size=2) as fake:
        fake.add("Contacts", {"id": TED, "Last_Name": "Watson", "Email": "ted@zylker.com"})
        for i, outcome in enumerate(["", "No Show", "Attended"]):
            fake.add("Events", {"Event_Title": f"Visit {i}", "Start_DateTime": f"2026-01-0{i + 3}T14:00:00+00:00",
                                "End_DateTime": f"2026-01-0{i + 3}T14:30:00+00:00", "Noshow_Outcome": outcome,
                                "Participants": [{"type": "contact", "participant": TED}],
                                "Modified_Time": f"2026-01-06T1{i}:00:00+00:00"})
        gone = fake.add("Events", {"Event_Title": "Gone", "Start_DateTime": "2026-01-08T09:00:00+00:00",
                                   "End_DateTime": "2026-01-08T09:30:00+00:00"})
        fake.delete("Events", gone, "2026-01-06T13:00:00+00:00")
        source = ZohoSource(_client(fake), outcome_field="Noshow_Outcome")
        page = source.poll(None, NOW)
        assert [s.status for s in page.snapshots] == ["active", "no_show", "attended", "cancelled"]
        assert page.snapshots[3].appointment.appointment_id == gone
        lists = fake.calls("GET", "/crm/v7/Events")
        pages = [r for r in lists if not r.path.endswith("/deleted")]
        assert [r.query["page"] for r in pages] == ["1", "2"]
        assert pages[0].headers["if-modified-since"] == "2026-01-05T16:00:00+00:00"  # the first look-back: a day
        assert "Noshow_Outcome" in pages[0].query["fields"].split(",")
        assert len(fake.calls("GET", f"/crm/v7/Contacts/{TED}")) == 1  # one read per person per poll
        assert datetime.fromisoformat(page.cursor or "") == datetime(2026, 1, 6, 13, tzinfo=UTC)
        again = source.poll(page.cursor, NOW)  # only the last change again (one second back): the differ drops it
        assert [s.status for s in again.snapshots] == ["cancelled"] and again.cursor == page.cursor
        assert fake.calls("GET", "/crm/v7/Events")[-2].headers["if-modified-since"] == "2026-01-06T12:59:59+00:00"


def test_a_meeting_changed_later_within_the_cursors_second_is_not_skipped() -> None:
    with fake_zoho() as fake:
        fake.add("Contacts", {"id": TED, "Last_Name": "Watson", "Email": "ted@zylker.com"})
        meeting = {"Start_DateTime": "2026-01-06T14:00:00+00:00", "End_DateTime": "2026-01-06T14:30:00+00:00",
                   "Participants": [{"type": "contact", "participant": TED}],
                   "Modified_Time": "2026-01-06T15:00:00+00:00"}
        fake.add("Events", {**meeting, "Event_Title": "First"})
        source = ZohoSource(_client(fake))
        page = source.poll(None, NOW)
        late = fake.add("Events", {**meeting, "Event_Title": "Second"})  # same second, after the poll read
        assert late in {s.appointment.appointment_id for s in source.poll(page.cursor, NOW).snapshots}


def test_the_poll_opens_the_watch_channel_once_and_renews_it_a_day_before_it_expires() -> None:
    with fake_zoho() as fake:
        client = _client(fake)
        keeper = ZohoChannelKeeper(client, 1000000068001, "TOKEN_1", "https://noshow.example.com/webhooks/zoho")
        source = ZohoSource(client, keeper=keeper)
        source.poll(None, NOW)
        source.poll(None, NOW + timedelta(hours=1))
        (opened,) = fake.calls("POST", "/crm/v7/actions/watch")
        channel = opened.json()["watch"][0]
        assert channel["events"] == ["Events.all"] and channel["token"] == "TOKEN_1"
        assert channel["notify_url"] == "https://noshow.example.com/webhooks/zoho?token=TOKEN_1"
        assert not fake.calls("PUT", "/crm/v7/actions/watch")
        # another process (no memory of the expiry) asks Zoho, then renews near the end with PUT
        later = ZohoChannelKeeper(client, 1000000068001, "TOKEN_1", "https://noshow.example.com/webhooks/zoho")
        later.maintain(NOW + timedelta(days=6, hours=1))
        assert len(fake.calls("PUT", "/crm/v7/actions/watch")) == 1
        assert len(fake.calls("POST", "/crm/v7/actions/watch")) == 1


def test_a_channel_zoho_refuses_does_not_stop_the_poll() -> None:
    with fake_zoho() as fake:
        client = _client(fake)
        keeper = ZohoChannelKeeper(client, 1000000068001, "x" * 51, "https://noshow.example.com/webhooks/zoho")
        page = ZohoSource(client, keeper=keeper).poll(None, NOW)
        assert page.snapshots == [] and fake.calls("POST", "/crm/v7/actions/watch")
        assert fake.calls("GET", "/crm/v7/Events")


@pytest.fixture
def zoho_crm(tmp_path: Path) -> Iterator[tuple[FakeZoho, ZohoCrm]]:
    with fake_zoho() as fake:
        crm = ZohoCrm(_client(fake), CreateLog(LocalDb(tmp_path / "db.sqlite"), "zoho"),
                      CrmRules(writable_fields=["outcome", "recovery_status"], protected_fields=["risk_flag"]),
                      default_owner="554023000000235011", clock=lambda: NOW,
                      contact_lookup=lambda cid: Contact(contact_id=cid, email="ted@zylker.com"))
        yield fake, crm


def test_outcome_fields_go_on_the_meeting_and_protected_ones_are_refused(zoho_crm: tuple[FakeZoho, ZohoCrm]) -> None:
    fake, crm = zoho_crm
    fake.add("Contacts", {"id": TED, "Last_Name": "Watson", "Email": "ted@zylker.com"})
    meeting = fake.add("Events", {"Event_Title": "Consultation", "Start_DateTime": "2026-01-06T14:00:00+00:00",
                                  "End_DateTime": "2026-01-06T14:30:00+00:00"})
    crm.write_fields(f"zoho:{TED}", meeting, {"outcome": "no_show", "recovery_status": "open"}, "k1")
    (put,) = fake.calls("PUT")
    assert put.path == f"/crm/v7/Events/{meeting}"
    assert put.json() == {"data": [{"Noshow_Outcome": "no_show", "Noshow_Recovery_Status": "open"}]}
    assert crm.read_fields(f"zoho:{TED}", meeting)["outcome"] == "no_show"
    with pytest.raises(PermanentProviderError) as info:
        crm.write_fields(f"zoho:{TED}", meeting, {"risk_flag": "high"}, "k2")
    assert info.value.code == "protected_field" and len(fake.calls("PUT")) == 1
    # an appointment from another source: the field goes on the contact found by email
    crm.write_fields("calcom:ak-1", "uid-1", {"outcome": "no_show"}, "k3")
    assert fake.calls("PUT")[-1].path == f"/crm/v7/Contacts/{TED}"
    assert fake.calls("GET", "/crm/v7/Contacts/search")[0].query == {"email": "ted@zylker.com"}


def test_a_retried_note_or_task_is_created_once(zoho_crm: tuple[FakeZoho, ZohoCrm]) -> None:
    fake, crm = zoho_crm
    fake.add("Contacts", {"id": TED, "Last_Name": "Watson", "Email": "ted@zylker.com"})
    for _ in range(2):
        crm.append_note(f"zoho:{TED}", "Left a voicemail", "note-1")
        crm.create_task("cal-owner-7", "Call Ted back", "task-1", contact_id=f"zoho:{TED}")
    (note,) = fake.records["Notes"].values()
    assert note["Parent_Id"] == {"module": {"api_name": "Contacts"}, "id": TED}
    assert note["Note_Title"].endswith(f"(ref {marker('note-1')})")
    (task,) = fake.records["Tasks"].values()
    assert task["Owner"] == {"id": "554023000000235011"} and task["Who_Id"] == {"id": TED}
    assert task["Due_Date"] == "2026-01-07" and task["Status"] == "Not Started"
    assert len(fake.calls("POST", "/crm/v7/Notes")) == 1 and len(fake.calls("POST", "/crm/v7/Tasks")) == 1


def test_an_attempt_that_created_without_an_answer_is_found_by_its_marker(
        zoho_crm: tuple[FakeZoho, ZohoCrm]) -> None:
    fake, crm = zoho_crm
    crm.creates._begin("task-9", "Tasks")  # the first attempt's row, its POST reached Zoho, the answer was lost
    found = fake.add("Tasks", {"Subject": f"Call back (ref {marker('task-9')})"})
    crm.create_task(None, "Call back", "task-9")
    assert not fake.calls("POST", "/crm/v7/Tasks") and crm.creates.record_id("task-9") == (True, found)
    assert fake.calls("GET", "/crm/v7/Tasks/search")[0].query["word"] == marker("task-9")


def test_a_refused_record_is_permanent_with_zohos_code_and_a_server_error_is_temporary(
        zoho_crm: tuple[FakeZoho, ZohoCrm]) -> None:
    fake, crm = zoho_crm
    with pytest.raises(PermanentProviderError) as info:
        crm.client.create("Tasks", {"Status": "Not Started"})  # no Subject
    assert info.value.code == "MANDATORY_NOT_FOUND"
    fake.fail_next(500, {"code": "INTERNAL_ERROR", "status": "error"})
    with pytest.raises(RetryableProviderError):
        crm.client.update("Events", "1", {"Noshow_Outcome": "no_show"})
    with pytest.raises(PermanentProviderError) as unknown:
        crm.client.update("Events", "1", {"Noshow_Outcome": "no_show"})
    assert unknown.value.code == "INVALID_DATA"
    with pytest.raises(PermanentProviderError) as nobody:
        crm.append_note("hubspot:77", "note", "n-2")  # known neither by id nor by email at Zoho
    assert nobody.value.code == "unknown_contact" and not fake.records["Notes"]
