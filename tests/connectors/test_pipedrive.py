"""Pipedrive specifics beyond the kit: the Basic credentials compared before the body is read, activities
polled with `updated_since` and cursor pages, OAuth with the client in HTTP Basic and `api_domain` from the token
answer, and CRM writes: outcome custom fields on the deal, done / undone, notes and follow-up activities created
once through the remote-create log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.contract import PermanentProviderError, SignatureError
from connectors.local.db import LocalDb
from connectors.local.remote_creates import CreateLog
from connectors.oauth import BasicClientRefreshGrant, MemoryTokenStore, TokenManager
from connectors.pipedrive.client import PipedriveClient
from connectors.pipedrive.crm import PipedriveCrm, marker
from connectors.pipedrive.inbound import PipedriveInbound
from connectors.pipedrive.source import PipedriveSource
from domain.models import Contact
from policies.schema import CrmRules
from tests.connectors.cases_pipedrive import PASSWORD, USER, basic, make, pipedrive_request
from tests.connectors.kit import fixture_bytes, fixture_json
from tests.fakes.pipedrive_fake import FakePipedrive

NOW = datetime(2026, 1, 6, 16, 0, tzinfo=UTC)
OUTCOME_KEY = "dcf558aac1ae4e8c4f849ba5e668430d8df9be12"


@pytest.mark.parametrize("authorization", [basic(USER, PASSWORD + "x"), basic(USER + "x", PASSWORD),
                                           basic("", ""), f"Bearer {PASSWORD}", "Basic !!!",
                                           "Basic " + "aG9va3VzZXI=", ""])
def test_wrong_or_malformed_credentials_are_refused_before_the_body_is_read(authorization: str) -> None:
    request = pipedrive_request(b"{not json", NOW).model_copy(update={"headers": {"authorization": authorization}})
    with pytest.raises(SignatureError):
        make().verify(request, NOW)


def test_good_credentials_over_an_unreadable_body_pass_authentication_and_fail_parsing() -> None:
    from connectors.inbound import PayloadError
    request = pipedrive_request(b"{not json", NOW)
    inbound = make()
    inbound.verify(request, NOW)
    with pytest.raises(PayloadError):
        inbound.parse(request)


def test_a_retry_carries_the_same_event_id_and_is_a_duplicate() -> None:
    body = fixture_json("pipedrive", "activity_done.json")
    retry = {**body, "meta": {**body["meta"], "attempt": 2}}
    first, second = (pipedrive_request(json.dumps(b).encode(), NOW) for b in (body, retry))
    inbound = make()
    inbound.verify(first, NOW)
    with pytest.raises(SignatureError):
        inbound.verify(second, NOW)
    assert make().parse(first).dedupe_key == make().parse(second).dedupe_key


def test_activity_types_outside_the_configured_ones_are_unknown() -> None:
    request = pipedrive_request(fixture_bytes("pipedrive", "activity_create.json"), NOW)
    result = PipedriveInbound(USER, PASSWORD, types=["call"]).parse(request)
    assert not result.events and result.unknown_types == ["activity.create"]


def test_polled_activities_become_snapshots_with_the_person_read_once() -> None:
    with FakePipedrive(api_token="t", page_size=1) as fake:
        person = fake.add_person("Ted Watson", "ted@example.com", "+15555550123")
        for row in fixture_json("pipedrive", "activities_list.json")["data"]:
            fake.add_activity(**{**row, "person_id": person})
        source = PipedriveSource(PipedriveClient("t", api_domain=fake.base_url), no_show_outcomes=["3"])
        page = source.poll(None, NOW)
        assert [(s.appointment.appointment_id, s.status) for s in page.snapshots] == [("8123", "no_show"),
                                                                                       ("8124", "active")]
        assert page.snapshots[0].appointment.contact.phone == "+15555550123"
        assert page.snapshots[0].appointment.contact.name == "Ted Watson"
        lists = fake.calls("GET", "/api/v2/activities")
        assert [r.query.get("cursor") for r in lists] == [None, "1", "2"]  # one a page
        assert lists[0].query["updated_since"] == "2026-01-05T16:00:00Z"
        assert len(fake.calls("GET", f"/api/v2/persons/{person}")) == 1
        assert datetime.fromisoformat(page.cursor or "") == datetime(2026, 1, 6, 15, 10, tzinfo=UTC)
        source.poll(page.cursor, NOW)
        assert fake.calls("GET", "/api/v2/activities")[-1].query["updated_since"] == "2026-01-06T15:10:00Z"


def test_oauth_sends_the_client_in_basic_auth_and_uses_the_api_domain_it_names() -> None:
    with FakePipedrive() as fake:
        grant = BasicClientRefreshGrant("pd-client", "pd-secret", "pd-refresh")
        manager = TokenManager("pipedrive", "pd-client", f"{fake.base_url}/oauth/token", grant, MemoryTokenStore())
        assert PipedriveClient(oauth=manager).me()["id"] == 1234
        (token,) = fake.calls("POST", "/oauth/token")
        assert "client_secret" not in token.form() and token.headers["authorization"].startswith("Basic ")
        assert fake.calls("GET", "/api/v1/users/me")[0].headers["authorization"].startswith("Bearer v1u:")
        fake.revoke_bearer()  # revoked before its hour was up: refreshed once, the call repeated
        assert PipedriveClient(oauth=manager).me()["id"] == 1234
        assert len(fake.calls("POST", "/oauth/token")) == 2
        bad = TokenManager("pipedrive", "x", f"{fake.base_url}/oauth/token",
                           BasicClientRefreshGrant("pd-client", "wrong", "pd-refresh"), MemoryTokenStore())
        with pytest.raises(PermanentProviderError) as info:
            PipedriveClient(oauth=bad).me()
        assert info.value.code == "invalid_client"


def test_an_unknown_api_token_is_permanent_and_never_names_the_message() -> None:
    with FakePipedrive() as fake:
        with pytest.raises(PermanentProviderError) as info:
            PipedriveClient("wrong", api_domain=fake.base_url).me()
        assert info.value.code == "unauthorized" and "unauthorized access" not in str(info.value)


@pytest.fixture
def pipedrive_crm(tmp_path: Path) -> Iterator[tuple[FakePipedrive, PipedriveCrm, int]]:
    with FakePipedrive(api_token="t") as fake:
        person = fake.add_person("Ted Watson", "ted@example.com", "+15555550123")
        crm = PipedriveCrm(PipedriveClient("t", api_domain=fake.base_url),
                           CreateLog(LocalDb(tmp_path / "db.sqlite"), "pipedrive"),
                           CrmRules(writable_fields=["outcome"], protected_fields=["risk_flag"]),
                           fields={"outcome": OUTCOME_KEY, "risk_flag": "ffff"}, default_owner="1234",
                           contact_lookup=lambda cid: Contact(contact_id=cid, email="ted@example.com"),
                           no_show_outcome="3", clock=lambda: NOW)
        yield fake, crm, person


def test_the_outcome_goes_in_the_deals_custom_field_and_protected_fields_are_refused(
        pipedrive_crm: tuple[FakePipedrive, PipedriveCrm, int]) -> None:
    fake, crm, person = pipedrive_crm
    deal = fake.add_deal("Consultation", person)
    activity = fake.add_activity(subject="Consultation", type="meeting", person_id=person, deal_id=deal,
                                 due_date="2026-01-06", due_time="14:00")
    crm.write_fields(f"pipedrive:{person}", str(activity), {"outcome": "no_show"}, "k1")
    (patch,) = fake.calls("PATCH")
    assert patch.path == f"/api/v2/deals/{deal}" and patch.json() == {"custom_fields": {OUTCOME_KEY: "no_show"}}
    assert crm.read_fields(f"pipedrive:{person}", str(activity))["outcome"] == "no_show"
    with pytest.raises(PermanentProviderError) as info:
        crm.write_fields(f"pipedrive:{person}", str(activity), {"risk_flag": "high"}, "k2")
    assert info.value.code == "protected_field"
    crm.write_fields("calcom:ak-1", "uid-1", {"outcome": "no_show"}, "k3")  # found by email: on the person
    assert fake.calls("PATCH")[-1].path == f"/api/v2/persons/{person}"


def test_an_activity_is_marked_done_with_the_no_show_outcome_and_can_be_reopened(
        pipedrive_crm: tuple[FakePipedrive, PipedriveCrm, int]) -> None:
    fake, crm, person = pipedrive_crm
    activity = fake.add_activity(subject="Consultation", type="meeting", person_id=person)
    assert crm.mark_no_show(str(activity), None) is True
    assert fake.activities[activity]["done"] is True and fake.activities[activity]["outcome"] == 3
    crm.set_done(str(activity), False)
    assert fake.activities[activity]["done"] is False
    assert crm.mark_no_show("calcom-uid", None) is False


def test_a_retried_note_or_follow_up_is_created_once_and_an_unanswered_one_is_found(
        pipedrive_crm: tuple[FakePipedrive, PipedriveCrm, int]) -> None:
    fake, crm, person = pipedrive_crm
    for _ in range(2):
        crm.append_note(f"pipedrive:{person}", "Left a voicemail", "note-1")
        crm.create_task("cal-owner-7", "Call Ted back", "task-1", contact_id=f"pipedrive:{person}")
    (note,) = fake.notes.values()
    assert note["person_id"] == person and note["content"].endswith(f"(ref {marker('note-1')})")
    (task,) = [a for a in fake.activities.values() if a["type"] == "task"]
    assert task["owner_id"] == 1234 and task["person_id"] == person and task["due_date"] == "2026-01-07"
    assert len(fake.calls("POST", "/api/v2/activities")) == 1 and len(fake.calls("POST", "/api/v1/notes")) == 1
    crm.creates._begin("task-9", "activity")  # the POST reached Pipedrive, the answer was lost
    found = fake.add_activity(subject=f"Call back (ref {marker('task-9')})", type="task",
                              update_time="2026-01-06T15:59:00Z")
    crm.create_task(None, "Call back", "task-9")
    assert crm.creates.record_id("task-9") == (True, str(found))
    assert len(fake.calls("POST", "/api/v2/activities")) == 1


def test_the_engines_booking_becomes_a_meeting_activity(pipedrive_crm: tuple[FakePipedrive, PipedriveCrm, int]) -> None:
    fake, crm, person = pipedrive_crm
    made = crm.record_booking(f"pipedrive:{person}", datetime(2026, 1, 9, 15, tzinfo=UTC),
                              datetime(2026, 1, 9, 15, 45, tzinfo=UTC), "Rebooked: consultation", "b-1")
    row = fake.activities[int(made or 0)]
    assert (row["type"], row["due_date"], row["due_time"], row["duration"]) == ("meeting", "2026-01-09", "15:00",
                                                                                "00:45")
    crm.contact_lookup = lambda cid: None
    assert crm.record_booking("hubspot:1", NOW, NOW, "x", "b-2") is None  # nobody at Pipedrive


def test_settings_select_pipedrive_as_the_crm_and_its_no_show_marker(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    from connectors.local.calendar import LocalCalendar
    from connectors.local.crm import LocalCrm
    from connectors.writeback import WritebackCrm
    from tests.helpers import settings_from
    from workers.providers.checks import ProviderConfigError
    from workers.providers.writeback import writeback, writeback_checks

    monkeypatch.chdir(tmp_path)
    db = LocalDb(tmp_path / "local.db")
    calendar, crm = LocalCalendar(db), LocalCrm(db)
    missing = settings_from({"crm_provider": "pipedrive", "pipedrive_owner_id": "pat"})
    with pytest.raises(ProviderConfigError) as info:
        writeback(missing, calendar, crm, [CrmRules()])
    assert "NOSHOW_PIPEDRIVE_API_TOKEN" in str(info.value) and "NOSHOW_PIPEDRIVE_OWNER_ID" in str(info.value)
    ready = settings_from({"crm_provider": "pipedrive", "pipedrive_api_token": "pd-secret-token",
                           "pipedrive_api_domain": "https://acme.pipedrive.com",
                           "pipedrive_fields": json.dumps({"outcome": OUTCOME_KEY}),
                           "pipedrive_no_show_outcomes": "[3]"})
    _, engine_crm = writeback(ready, calendar, crm, [CrmRules()])
    assert isinstance(engine_crm, WritebackCrm) and isinstance(engine_crm.remote, PipedriveCrm)
    assert engine_crm.marker is engine_crm.remote and engine_crm.marker_source == "pipedrive"
    assert engine_crm.remote.no_show_outcome == "3"
    checks = {c.name: c for c in writeback_checks(ready)}
    assert checks["crm"].status == "ok" and "Pipedrive" in checks["crm"].detail
    assert "pd-secret-token" not in " ".join(c.detail for c in writeback_checks(ready))


def test_the_webhook_route_reads_the_activitys_person_when_the_api_is_configured(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.helpers import settings_from
    from workers.providers.inbound import inbound_connectors

    monkeypatch.chdir(tmp_path)
    with FakePipedrive(api_token="t") as fake:
        fake.persons[77] = {"id": 77, "name": "Ted Watson", "emails": [{"value": "ted@example.com", "primary": True}],
                            "phones": [{"value": "+15555550123", "primary": True}]}
        settings = settings_from({"pipedrive_webhook_user": USER, "pipedrive_webhook_password": PASSWORD,
                                  "pipedrive_api_token": "t", "pipedrive_api_domain": fake.base_url})
        route = inbound_connectors(settings)[0]["pipedrive"]
        request = pipedrive_request(fixture_bytes("pipedrive", "activity_create.json"), NOW)
        route.verify(request, NOW)
        (event,) = route.parse(request).events
        assert event.appointment.contact.phone == "+15555550123"
        assert event.appointment.contact.contact_id == "pipedrive:77"
        fake.fail_next(500)  # the person unreadable: the event stands without the details
        (bare,) = route.parse(request).events
        assert bare.appointment.contact.phone is None
    alone = settings_from({"pipedrive_webhook_user": USER, "pipedrive_webhook_password": PASSWORD})
    assert isinstance(inbound_connectors(alone)[0]["pipedrive"], PipedriveInbound)
