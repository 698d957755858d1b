"""Freshdesk specifics beyond the kit: the rule's shared header or Basic pair compared before the body is read,
the reason mapping, the requester read after the webhook, the updated-since poll with its pages and cursor, and
the CRM writes (private notes, `cf_` fields, follow-up tickets) made once."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.contract import PermanentProviderError, RetryableProviderError, SignatureError
from connectors.freshdesk.client import PAGE_SIZE, FreshdeskClient
from connectors.freshdesk.inbound import FreshdeskInbound
from connectors.freshdesk.source import FreshdeskSource
from connectors.helpdesk.crm import HelpdeskCrm
from connectors.inbound import PayloadError
from connectors.local.db import LocalDb
from connectors.local.remote_creates import CreateLog, marker
from domain.models import Contact, EventType
from policies.schema import CrmRules
from tests.connectors.cases_helpdesk import FD_HEADER, FD_TOKEN, freshdesk_request
from tests.connectors.kit import fixture_bytes, fixture_json
from tests.fakes.freshdesk_fake import FakeFreshdesk

NOW = datetime(2026, 1, 6, 16, 0, tzinfo=UTC)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def with_headers(headers: dict[str, str], body: bytes = b"{not json") -> object:
    return freshdesk_request(body, NOW).model_copy(update={"headers": headers})


@pytest.mark.parametrize("headers", [{FD_HEADER: FD_TOKEN + "x"}, {FD_HEADER: ""}, {},
                                     {"authorization": basic("hook", "pass")}])
def test_a_wrong_or_missing_token_is_refused_before_the_body_is_read(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        FreshdeskInbound(FD_TOKEN).verify(with_headers(headers), NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize("authorization", [basic("hook", "pass-x"), basic("hookx", "pass"), "Basic !!!",
                                           "Bearer pass", basic("hook", "")])
def test_the_rules_basic_pair_is_accepted_and_anything_else_refused(authorization: str) -> None:
    inbound = FreshdeskInbound(user="hook", password="pass")
    body = fixture_bytes("freshdesk", "rule_missed.json")
    inbound.verify(with_headers({"authorization": basic("hook", "pass")}, body), NOW)  # type: ignore[arg-type]
    with pytest.raises(SignatureError):
        FreshdeskInbound(user="hook", password="pass").verify(
            with_headers({"authorization": authorization}), NOW)  # type: ignore[arg-type]


def test_a_retry_is_a_duplicate_and_a_later_change_is_not() -> None:
    body = fixture_json("freshdesk", "rule_canceled_appointment.json")
    inbound = FreshdeskInbound(FD_TOKEN)
    inbound.verify(freshdesk_request(json.dumps(body).encode(), NOW), NOW)
    with pytest.raises(SignatureError):  # Freshdesk's retry 5 minutes later, the same body
        inbound.verify(freshdesk_request(json.dumps(body).encode(), NOW), NOW + timedelta(minutes=5))
    later = {**body, "updated_at": "2026-01-06T10:00:00Z"}
    inbound.verify(freshdesk_request(json.dumps(later).encode(), NOW), NOW)


def test_a_canceled_appointment_reason_starts_the_reschedule_playbook_and_the_mapping_is_a_setting() -> None:
    request = freshdesk_request(fixture_bytes("freshdesk", "rule_other_reason.json"), NOW)
    assert FreshdeskInbound(FD_TOKEN).parse(request).unknown_types == ["ticket.refund"]
    (event,) = FreshdeskInbound(FD_TOKEN, statuses={"Refund": "reschedule_requested"}).parse(request).events
    assert event.type is EventType.reschedule_requested
    canceled = freshdesk_request(fixture_bytes("freshdesk", "rule_canceled_appointment.json"), NOW)
    assert [e.type for e in FreshdeskInbound(FD_TOKEN).parse(canceled).events] == [EventType.cancelled]


def test_a_body_without_a_readable_time_is_a_payload_error() -> None:
    body = {**fixture_json("freshdesk", "rule_canceled_appointment.json"), "created_at": "Tue, 6 Jan 2026",
            "updated_at": ""}
    with pytest.raises(PayloadError, match="template"):
        FreshdeskInbound(FD_TOKEN).parse(freshdesk_request(json.dumps(body).encode(), NOW))


def test_the_webhook_route_reads_the_requester_when_the_api_is_configured(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.helpers import settings_from
    from workers.providers.inbound import inbound_connectors

    monkeypatch.chdir(tmp_path)
    assert "freshdesk" not in inbound_connectors(settings_from({"freshdesk_webhook_user": "hook"}))[0]
    with FakeFreshdesk() as fake:
        fake.contacts[43001234] = {"id": 43001234, "name": "Sam Lee", "email": "sam@example.com", "phone": None,
                                   "mobile": "+15555550142"}
        settings = settings_from({"freshdesk_webhook_token": FD_TOKEN, "freshdesk_base_url": fake.base_url,
                                  "freshdesk_api_key": "fd-key"})
        route = inbound_connectors(settings)[0]["freshdesk"]
        request = freshdesk_request(fixture_bytes("freshdesk", "rule_canceled_appointment.json"), NOW)
        route.verify(request, NOW)
        (event,) = route.parse(request).events
        assert (event.appointment.contact.name, event.appointment.contact.phone) == ("Sam Lee", "+15555550142")
        assert fake.calls("GET", "/api/v2/contacts/43001234")[0].headers["authorization"] == basic("fd-key", "X")


def test_the_poll_reads_updated_tickets_page_by_page_and_keeps_the_latest_change() -> None:
    with FakeFreshdesk() as fake:
        sam = fake.add_contact("Sam Lee", "sam@example.com", "+15555550142")
        for row in fixture_json("freshdesk", "tickets_updated.json"):
            fake.add_ticket(sam, row["custom_fields"], **{k: row[k] for k in ("id", "created_at", "updated_at")})
        for i in range(PAGE_SIZE):  # a full first page of other tickets, changed earlier
            fake.add_ticket(sam, created_at="2026-01-06T00:00:00Z",
                            updated_at=f"2026-01-06T0{i // 60}:{i % 60:02d}:00Z")
        source = FreshdeskSource(FreshdeskClient(fake.base_url, "fd-key"), appointment_field="cf_appointment_id",
                                 start_field="cf_appointment_time")
        page = source.poll(None, NOW)
        assert [(s.appointment.appointment_id, s.status) for s in page.snapshots] == [
            ("812", "cancelled"), ("VISIT-5521", "no_show")]
        assert page.cursor == "2026-01-06T14:25:00+00:00"
        lists = fake.calls("GET", "/api/v2/tickets")
        assert [r.query["page"] for r in lists] == ["1", "2"]
        assert lists[0].query["updated_since"] == "2026-01-05T16:00:00Z" and lists[0].query["order_type"] == "asc"
        assert len(fake.calls("GET", f"/api/v2/contacts/{sam}")) == 1
        source.poll(page.cursor, NOW)
        assert fake.calls("GET", "/api/v2/tickets")[-1].query["updated_since"] == "2026-01-06T14:25:00Z"


@pytest.fixture
def freshdesk_crm(tmp_path: Path) -> Iterator[tuple[FakeFreshdesk, HelpdeskCrm, int, int]]:
    with FakeFreshdesk() as fake:
        sam = fake.add_contact("Sam Lee", "sam@example.com", "+15555550142")
        ticket = fake.add_ticket(sam, {"cf_reason": "Canceled appointment"})
        crm = HelpdeskCrm(FreshdeskClient(fake.base_url, "fd-key"), CreateLog(LocalDb(tmp_path / "db.sqlite"),
                                                                              "freshdesk"),
                          CrmRules(), {"outcome": "cf_outcome", "recovery_status": "cf_recovery_status"},
                          source="freshdesk", follow_up="ticket", default_owner="77001",
                          contact_lookup=lambda cid: Contact(contact_id=cid, email="sam@example.com"),
                          clock=lambda: NOW)
        yield fake, crm, sam, ticket


def test_the_outcome_sets_cf_fields_and_leaves_one_private_note(
        freshdesk_crm: tuple[FakeFreshdesk, HelpdeskCrm, int, int]) -> None:
    fake, crm, sam, ticket = freshdesk_crm
    for _ in range(2):
        crm.write_fields(f"freshdesk:{sam}", str(ticket), {"outcome": "rebooked", "recovery_status": "done"}, "k-1")
    assert fake.tickets[ticket]["custom_fields"]["cf_outcome"] == "rebooked"
    assert fake.calls("PUT", f"/api/v2/tickets/{ticket}")[0].json() == {
        "custom_fields": {"cf_outcome": "rebooked", "cf_recovery_status": "done"}}
    (note,) = fake.conversations[ticket]
    assert note["private"] is True and "outcome: rebooked" in note["body"]
    assert fake.calls("POST", f"/api/v2/tickets/{ticket}/notes")[0].json()["private"] is True


def test_a_follow_up_ticket_is_created_once_for_the_requester(
        freshdesk_crm: tuple[FakeFreshdesk, HelpdeskCrm, int, int]) -> None:
    fake, crm, sam, _ = freshdesk_crm
    for _ in range(2):
        crm.create_task("cal-owner", "Call Sam back", "task-1", contact_id=f"freshdesk:{sam}")
    (made,) = fake.calls("POST", "/api/v2/tickets")
    assert made.json() == {"subject": f"Call Sam back (ref {marker('task-1')})",
                           "description": "Follow-up task from no-show recovery, due 2026-01-07 16:00 UTC.",
                           "requester_id": sam, "status": 2, "priority": 2, "responder_id": 77001}
    crm.creates._begin("task-2", "ticket")  # the POST reached Freshdesk, the answer was lost
    found = fake.add_ticket(sam, subject=f"Call again (ref {marker('task-2')})", updated_at="2026-01-06T15:59:00Z")
    crm.create_task(None, "Call again", "task-2", contact_id=f"freshdesk:{sam}")
    assert crm.creates.record_id("task-2") == (True, str(found)) and len(fake.calls("POST", "/api/v2/tickets")) == 1


def test_an_unknown_field_is_permanent_and_a_rate_limit_is_retryable(
        freshdesk_crm: tuple[FakeFreshdesk, HelpdeskCrm, int, int]) -> None:
    fake, crm, sam, ticket = freshdesk_crm
    crm.fields = {"outcome": "cf_not_there"}
    with pytest.raises(PermanentProviderError) as info:
        crm.write_fields(f"freshdesk:{sam}", str(ticket), {"outcome": "no_show"}, "k-2")
    assert info.value.code == "invalid_field"
    fake.rate_limit_next("30")
    with pytest.raises(RetryableProviderError) as limited:
        crm.append_note(f"freshdesk:{sam}", "x", "note-1")
    assert limited.value.retry_after == 30


def test_settings_select_freshdesk_as_the_crm_and_the_live_probe_reads_the_agent(
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
    missing = settings_from({"crm_provider": "freshdesk", "freshdesk_statuses": json.dumps({"x": "gone"}),
                             "freshdesk_fields": json.dumps({"outcome": "outcome"})})
    with pytest.raises(ProviderConfigError) as info:
        writeback(missing, LocalCalendar(db), LocalCrm(db), [CrmRules()])
    for named in ("NOSHOW_FRESHDESK_API_KEY", "NOSHOW_FRESHDESK_DOMAIN", "NOSHOW_FRESHDESK_STATUSES", "cf_"):
        assert named in str(info.value)
    with FakeFreshdesk() as fake:
        ready = settings_from({"crm_provider": "freshdesk", "freshdesk_base_url": fake.base_url,
                               "freshdesk_api_key": "fd-key"})
        _, engine_crm = writeback(ready, LocalCalendar(db), LocalCrm(db), [CrmRules()])
        assert isinstance(engine_crm, WritebackCrm) and isinstance(engine_crm.remote, HelpdeskCrm)
        assert probes(ready)["freshdesk"]() == "agent 77001"


def test_a_task_without_a_customer_stays_local_instead_of_failing_the_write(
        freshdesk_crm: tuple[FakeFreshdesk, HelpdeskCrm, int, int]) -> None:
    fake, crm, _, _ = freshdesk_crm
    with pytest.raises(PermanentProviderError) as info:
        crm.create_task("77001", "Review the day's no-shows", "task-3")
    assert info.value.code == "unknown_contact"  # WritebackCrm keeps the local copy on this code
    assert not fake.calls("POST", "/api/v2/tickets")


def test_the_ticket_list_is_a_reconcile_source_once_the_api_key_and_domain_are_set(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.helpers import settings_from
    from workers.providers.sources import reconcile_checks, reconcile_sources

    monkeypatch.chdir(tmp_path)
    [off] = [c for c in reconcile_checks(settings_from({})) if c.name == "freshdesk"]
    assert off.status == "off"
    ready = settings_from({"freshdesk_domain": "clinic", "freshdesk_api_key": "k", "freshdesk_reason_field": "cf_why"})
    source = reconcile_sources(ready)["freshdesk"]
    assert isinstance(source, FreshdeskSource) and source.reason_field == "cf_why"
    assert source.client.base_url == "https://clinic.freshdesk.com"
