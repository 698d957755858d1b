"""Zendesk specifics beyond the kit: the signed timestamp and its window, the status mapping from settings, the
requester read after the webhook, the incremental export and its cursor, and the CRM writes (private comments,
ticket fields, follow-up tickets), each created once through the remote-create log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.contract import PermanentProviderError, SignatureError
from connectors.helpdesk.crm import HelpdeskCrm
from connectors.inbound import PayloadError
from connectors.local.db import LocalDb
from connectors.local.remote_creates import CreateLog, marker
from connectors.zendesk.client import ZendeskClient
from connectors.zendesk.inbound import ZendeskInbound
from connectors.zendesk.source import ZendeskSource
from domain.models import Contact
from policies.schema import CrmRules
from tests.connectors.cases_helpdesk import ZD_SECRET, ZD_SIG, ZD_TS, zendesk_request
from tests.connectors.kit import fixture_bytes, fixture_json
from tests.fakes.zendesk_fake import FakeZendesk, sign

NOW = datetime(2026, 1, 6, 16, 0, tzinfo=UTC)
STATUS, APPOINTMENT, START, OUTCOME = 360011, 360012, 360013, 360020


def test_a_body_less_request_signs_the_timestamp_alone_and_a_unix_timestamp_is_refused() -> None:
    stamp = "2026-01-06T16:00:00Z"
    empty = zendesk_request(b"", NOW).model_copy(update={"headers": {ZD_SIG: sign(ZD_SECRET, stamp, b""),
                                                                      ZD_TS: stamp}})
    ZendeskInbound(ZD_SECRET).verify(empty, NOW)
    unix = str(int(NOW.timestamp()))
    numeric = empty.model_copy(update={"headers": {ZD_SIG: sign(ZD_SECRET, unix, b""), ZD_TS: unix}})
    with pytest.raises(SignatureError):
        ZendeskInbound(ZD_SECRET).verify(numeric, NOW)


def test_the_tolerance_window_is_a_setting() -> None:
    request = zendesk_request(fixture_bytes("zendesk", "trigger_missed.json"), NOW - timedelta(minutes=2))
    ZendeskInbound(ZD_SECRET).verify(request, NOW)
    with pytest.raises(SignatureError):
        ZendeskInbound(ZD_SECRET, tolerance_seconds=60).verify(request, NOW)


def test_the_status_mapping_comes_from_settings_over_the_defaults() -> None:
    body = {**fixture_json("zendesk", "trigger_unmapped.json"), "appointment_status": "No-Show_billed"}
    request = zendesk_request(json.dumps(body).encode(), NOW)
    assert ZendeskInbound(ZD_SECRET).parse(request).unknown_types == ["ticket.no_show_billed"]
    mapped = ZendeskInbound(ZD_SECRET, statuses={"no show billed": "no_show", "missed": "attended"})
    assert [e.type.value for e in mapped.parse(request).events] == ["appointment.no_show"]
    missed = zendesk_request(fixture_bytes("zendesk", "trigger_missed.json"), NOW)
    assert [e.type.value for e in mapped.parse(missed).events] == ["appointment.attended"]
    with pytest.raises(ValueError, match="status mapping targets"):
        ZendeskInbound(ZD_SECRET, statuses={"missed": "vanished"})


@pytest.mark.parametrize("body", [b'{"ticket_id": "", "appointment_status": "missed"}',
                                  b'{"ticket_id": "4521", "appointment_status": "missed"}',  # no time at all
                                  b'["not", "an", "object"]'])
def test_a_template_the_engine_cannot_use_is_a_payload_error(body: bytes) -> None:
    inbound = ZendeskInbound(ZD_SECRET)
    request = zendesk_request(body, NOW)
    inbound.verify(request, NOW)
    with pytest.raises(PayloadError):
        inbound.parse(request)


def test_the_webhook_route_reads_the_requester_when_the_api_is_configured(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.helpers import settings_from
    from workers.providers.inbound import inbound_connectors

    monkeypatch.chdir(tmp_path)
    assert "zendesk" not in inbound_connectors(settings_from({}))[0]
    with FakeZendesk() as fake:
        fake.users[381920] = {"id": 381920, "name": "Rita Moreno", "email": "rita@example.com",
                              "phone": "+15555550188", "role": "end-user"}
        settings = settings_from({"zendesk_webhook_secret": ZD_SECRET, "zendesk_base_url": fake.base_url,
                                  "zendesk_email": "agent@clinic.example", "zendesk_api_token": "zd-token"})
        route = inbound_connectors(settings)[0]["zendesk"]
        request = zendesk_request(fixture_bytes("zendesk", "trigger_missed.json"), NOW)
        route.verify(request, NOW)
        (event,) = route.parse(request).events
        assert (event.appointment.contact.name, event.appointment.contact.phone) == ("Rita Moreno", "+15555550188")
        assert event.appointment.contact.contact_id == "zendesk:381920"
        assert fake.calls("GET", "/api/v2/users/381920.json")
        fake.fail_next(500)  # the requester unreadable: the event stands without the details
        (bare,) = route.parse(request).events
        assert bare.appointment.contact.phone is None


def test_the_export_is_followed_page_by_page_and_resumes_from_its_cursor() -> None:
    with FakeZendesk(page_size=1) as fake:
        rita = fake.add_user("Rita Moreno", "rita@example.com", "+15555550188")
        for row in fixture_json("zendesk", "incremental_export.json")["tickets"]:
            fake.add_ticket(rita, {f["id"]: f["value"] for f in row["custom_fields"]},
                            **{k: row[k] for k in ("id", "created_at", "updated_at", "assignee_id")})
        client = ZendeskClient(fake.base_url, "agent@clinic.example", "zd-token")
        source = ZendeskSource(client, str(STATUS), appointment_field_id=str(APPOINTMENT),
                               start_field_id=str(START), first_lookback=timedelta(days=2))
        page = source.poll(None, NOW)
        assert [(s.appointment.appointment_id, s.status) for s in page.snapshots] == [
            ("4522", "cancelled"), ("APT-20260106-1400", "no_show")]  # the billing ticket is no appointment
        assert page.snapshots[1].appointment.start == datetime(2026, 1, 6, 14, tzinfo=UTC)
        assert page.snapshots[0].appointment.contact.name == "Rita Moreno"
        exports = fake.calls("GET", "/api/v2/incremental/tickets/cursor.json")
        assert exports[0].query == {"start_time": str(int((NOW - timedelta(days=2)).timestamp()))}
        assert len(exports) == 3 and all("cursor" in r.query for r in exports[1:])
        assert len(fake.calls("GET", f"/api/v2/users/{rita}.json")) == 1  # once per requester per poll
        again = source.poll(page.cursor, NOW)
        assert again.snapshots == [] and fake.calls("GET", "/api/v2/incremental/tickets/cursor.json")[-1].query == {
            "cursor": page.cursor}


@pytest.fixture
def zendesk_crm(tmp_path: Path) -> Iterator[tuple[FakeZendesk, HelpdeskCrm, int, int]]:
    with FakeZendesk() as fake:
        rita = fake.add_user("Rita Moreno", "rita@example.com", "+15555550188")
        ticket = fake.add_ticket(rita, {STATUS: "missed"})
        crm = HelpdeskCrm(ZendeskClient(fake.base_url, "agent@clinic.example", "zd-token"),
                          CreateLog(LocalDb(tmp_path / "db.sqlite"), "zendesk"),
                          CrmRules(protected_fields=["customer_note"]), {"outcome": str(OUTCOME)}, source="zendesk",
                          contact_lookup=lambda cid: Contact(contact_id=cid, email="rita@example.com"),
                          clock=lambda: NOW)
        yield fake, crm, rita, ticket


def test_the_outcome_sets_the_ticket_field_and_leaves_one_private_comment(
        zendesk_crm: tuple[FakeZendesk, HelpdeskCrm, int, int]) -> None:
    fake, crm, rita, ticket = zendesk_crm
    for _ in range(2):  # an activity retry
        crm.write_fields(f"zendesk:{rita}", str(ticket), {"outcome": "no_show"}, "case-1-outcome")
    assert fake.field(ticket, OUTCOME) == "no_show"
    assert crm.read_fields(f"zendesk:{rita}", str(ticket)) == {"outcome": "no_show"}
    puts = fake.calls("PUT", f"/api/v2/tickets/{ticket}.json")
    field_puts = [r for r in puts if "custom_fields" in r.json()["ticket"]]
    assert field_puts[0].json() == {"ticket": {"custom_fields": [{"id": OUTCOME, "value": "no_show"}]}}
    notes = [c for c in fake.comments[ticket] if c["public"] is False]
    assert len(notes) == 1 and notes[0]["body"].startswith("No-show recovery recorded outcome: no_show")
    assert marker("case-1-outcome-outcome") in notes[0]["body"]
    with pytest.raises(PermanentProviderError) as info:
        crm.write_fields(f"zendesk:{rita}", str(ticket), {"customer_note": "x"}, "case-1-note")
    assert info.value.code == "protected_field"


def test_a_note_is_written_once_and_an_unanswered_one_is_found_by_its_marker(
        zendesk_crm: tuple[FakeZendesk, HelpdeskCrm, int, int]) -> None:
    fake, crm, rita, ticket = zendesk_crm
    other = fake.add_ticket(rita, updated_at="2020-01-01T00:00:00Z")  # older: not the one written to
    for _ in range(2):
        crm.append_note(f"zendesk:{rita}", "Left a voicemail", "note-1")
    (note,) = [c for c in fake.comments[ticket] if c["public"] is False]
    assert note["body"] == f"Left a voicemail\n(ref {marker('note-1')})" and len(fake.comments[other]) == 1
    assert fake.calls("PUT", f"/api/v2/tickets/{ticket}.json")[0].json() == {
        "ticket": {"comment": {"body": note["body"], "public": False}}}
    crm.creates._begin("note-2", "note")  # the PUT reached Zendesk, the answer was lost
    fake.comments[ticket].append({"id": 777, "body": f"Called (ref {marker('note-2')})", "public": False})
    crm.append_note(f"zendesk:{rita}", "Called", "note-2")
    assert crm.creates.record_id("note-2") == (True, "777")
    assert len(fake.calls("PUT", f"/api/v2/tickets/{ticket}.json")) == 1


def test_a_follow_up_ticket_goes_to_the_requester_assigned_to_the_owner_once(
        zendesk_crm: tuple[FakeZendesk, HelpdeskCrm, int, int]) -> None:
    fake, crm, rita, _ = zendesk_crm
    crm.follow_up = "ticket"
    for _ in range(2):
        crm.create_task("9001", "Call Rita back", "task-1", contact_id="hubspot:55")  # found by email
    (made,) = fake.calls("POST", "/api/v2/tickets.json")
    body = made.json()["ticket"]
    assert body["requester_id"] == rita and body["assignee_id"] == 9001
    assert body["comment"]["public"] is False and body["subject"] == f"Call Rita back (ref {marker('task-1')})"
    assert fake.calls("GET", "/api/v2/users/search.json")[0].query == {"query": "email:rita@example.com"}


def test_a_contact_the_desk_does_not_know_writes_nothing_remotely(
        zendesk_crm: tuple[FakeZendesk, HelpdeskCrm, int, int]) -> None:
    fake, crm, _, _ = zendesk_crm
    crm.contact_lookup = lambda cid: Contact(contact_id=cid, email="nobody@example.com")
    with pytest.raises(PermanentProviderError) as info:
        crm.append_note("calcom:uid-1", "x", "note-9")
    assert info.value.code == "unknown_contact"
    assert crm.record_booking("calcom:uid-1", NOW, NOW, "Rebooked", "b-1") is None
    assert not fake.calls("PUT")


def test_oauth_bearer_is_sent_and_a_refused_token_is_permanent() -> None:
    with FakeZendesk(oauth_token="zd-oauth") as fake:
        assert ZendeskClient(fake.base_url, oauth="zd-oauth").me()["id"] == 9001
        assert fake.calls("GET")[0].headers["authorization"] == "Bearer zd-oauth"
        with pytest.raises(PermanentProviderError) as info:
            ZendeskClient(fake.base_url, "agent@clinic.example", "wrong").me()
        assert "authenticate" not in str(info.value)  # the provider's message never reaches an exception


def test_settings_select_zendesk_as_the_crm_and_the_live_probe_reads_the_current_user(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from connectors.local.calendar import LocalCalendar
    from connectors.local.crm import LocalCrm
    from connectors.writeback import WritebackCrm
    from tests.helpers import settings_from
    from workers.providers.checks import ProviderConfigError
    from workers.providers.live import probes
    from workers.providers.writeback import writeback

    monkeypatch.chdir(tmp_path)
    db = LocalDb(tmp_path / "local.db")
    missing = settings_from({"crm_provider": "zendesk", "zendesk_fields": json.dumps({"outcome": "x", "mood": "1"})})
    with pytest.raises(ProviderConfigError) as info:
        writeback(missing, LocalCalendar(db), LocalCrm(db), [CrmRules()])
    for named in ("NOSHOW_ZENDESK_API_TOKEN", "NOSHOW_ZENDESK_SUBDOMAIN", "mood", "numeric ticket field ids"):
        assert named in str(info.value)
    with FakeZendesk() as fake:
        ready = settings_from({"crm_provider": "zendesk", "zendesk_base_url": fake.base_url,
                               "zendesk_email": "agent@clinic.example", "zendesk_api_token": "zd-token",
                               "zendesk_follow_up": "ticket", "zendesk_appointment_field_id": str(APPOINTMENT)})
        _, engine_crm = writeback(ready, LocalCalendar(db), LocalCrm(db), [CrmRules()])
        assert isinstance(engine_crm, WritebackCrm) and isinstance(engine_crm.remote, HelpdeskCrm)
        assert engine_crm.remote.follow_up == "ticket" and not engine_crm.remote.ticket_ids_are_appointments
        assert probes(ready)["zendesk"]() == "user 9001 (admin)"
        assert fake.calls("GET", "/api/v2/users/me.json")


def test_the_export_is_a_reconcile_source_only_with_credentials_and_the_status_field(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.helpers import settings_from
    from workers.providers.sources import reconcile_checks, reconcile_sources

    monkeypatch.chdir(tmp_path)
    api = {"zendesk_subdomain": "clinic", "zendesk_email": "agent@clinic.example", "zendesk_api_token": "t"}
    without_field = settings_from(api)
    [check] = [c for c in reconcile_checks(without_field) if c.name == "zendesk"]
    assert check.status == "error" and "NOSHOW_ZENDESK_STATUS_FIELD_ID" in check.detail
    assert "zendesk" not in reconcile_sources(without_field)
    ready = settings_from({**api, "zendesk_status_field_id": str(STATUS)})
    source = reconcile_sources(ready)["zendesk"]
    assert isinstance(source, ZendeskSource) and source.status_field_id == str(STATUS)
    assert source.client.base_url == "https://clinic.zendesk.com"


def test_a_status_map_that_is_not_json_is_one_settings_line_not_a_traceback(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from workers.cli.connectors import connectors_check

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NOSHOW_SETTINGS_FILE", str(tmp_path / "none.env"))
    monkeypatch.setenv("NOSHOW_ZENDESK_STATUSES", "missed=no_show")
    app = typer.Typer()
    app.command("check")(connectors_check)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["check"], env={"COLUMNS": "200"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    [line] = [x for x in result.output.splitlines() if x.strip().startswith("zendesk")]
    assert "error" in line and "must hold JSON" in line and "missed=no_show" not in line
