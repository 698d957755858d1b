"""ActiveCampaign specifics beyond the kit: the URL token compared before the body is read, missed stages by
title or id, and CRM writes: outcome values in the contact's custom fields, notes and deal tasks created once
through the remote-create log, refusals with ActiveCampaign's code."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.activecampaign.client import ActiveCampaignClient
from connectors.activecampaign.crm import ActiveCampaignCrm, marker
from connectors.activecampaign.inbound import ActiveCampaignInbound
from connectors.contract import PermanentProviderError, SignatureError
from connectors.inbound import PayloadError
from connectors.local.db import LocalDb
from connectors.local.remote_creates import CreateLog
from domain.models import Contact
from policies.schema import CrmRules
from tests.connectors.cases_activecampaign import URL_TOKEN, ac_request
from tests.connectors.kit import fixture_bytes
from tests.fakes.activecampaign_fake import FakeActiveCampaign

NOW = datetime(2026, 1, 6, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("token", ["", URL_TOKEN[:-1], URL_TOKEN + "x", URL_TOKEN.upper()])
def test_a_wrong_token_is_refused_before_the_body_is_read(token: str) -> None:
    with pytest.raises(SignatureError):
        ActiveCampaignInbound(URL_TOKEN).verify(ac_request(b"\xff not a form", NOW, token), NOW)


def test_the_right_token_over_an_unreadable_body_is_a_payload_error() -> None:
    inbound = ActiveCampaignInbound(URL_TOKEN)
    request = ac_request(b"\xff not a form", NOW)
    inbound.verify(request, NOW)
    with pytest.raises(PayloadError):
        inbound.parse(request)


def test_a_short_url_token_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError):
        ActiveCampaignInbound("short")


def test_missed_stages_match_by_title_or_id() -> None:
    body = fixture_bytes("activecampaign", "deal_update_booked.txt")
    by_id = ActiveCampaignInbound(URL_TOKEN, missed_stages=["5"]).parse(ac_request(body, NOW))
    assert [e.type.value for e in by_id.events] == ["appointment.no_show"]
    by_title = ActiveCampaignInbound(URL_TOKEN, missed_stages=["booked"]).parse(ac_request(body, NOW))
    assert len(by_title.events) == 1
    assert not ActiveCampaignInbound(URL_TOKEN).parse(ac_request(body, NOW)).events


@pytest.fixture
def ac_crm(tmp_path: Path) -> Iterator[tuple[FakeActiveCampaign, ActiveCampaignCrm, str]]:
    with FakeActiveCampaign("t") as fake:
        fake.fields.update({"7", "8"})
        person = fake.add_contact("jane@example.com", "Jane", "Doe", "+15555550142")
        crm = ActiveCampaignCrm(ActiveCampaignClient("t", fake.base_url),
                                CreateLog(LocalDb(tmp_path / "db.sqlite"), "activecampaign"),
                                CrmRules(writable_fields=["outcome"], protected_fields=["risk_flag"]),
                                fields={"outcome": "7", "risk_flag": "8"}, default_owner="1", task_type="3",
                                contact_lookup=lambda cid: Contact(contact_id=cid, email="jane@example.com"),
                                clock=lambda: NOW)
        yield fake, crm, person


def test_the_outcome_goes_in_the_contacts_field_and_protected_fields_are_refused(
        ac_crm: tuple[FakeActiveCampaign, ActiveCampaignCrm, str]) -> None:
    fake, crm, person = ac_crm
    crm.write_fields(f"activecampaign:{person}", "deal-46", {"outcome": "no_show"}, "k1")
    (post,) = fake.calls("POST", "/api/3/fieldValues")
    assert post.json() == {"fieldValue": {"contact": person, "field": "7", "value": "no_show"}}
    assert post.headers["api-token"] == "t"
    assert crm.read_fields(f"activecampaign:{person}", "deal-46")["outcome"] == "no_show"
    with pytest.raises(PermanentProviderError) as info:
        crm.write_fields(f"activecampaign:{person}", "deal-46", {"risk_flag": "high"}, "k2")
    assert info.value.code == "protected_field" and len(fake.calls("POST", "/api/3/fieldValues")) == 1
    crm.write_fields("calcom:ak-1", "uid-1", {"outcome": "attended"}, "k3")  # found by email
    assert fake.values[(person, "7")] == "attended"


def test_an_unmapped_field_is_a_permanent_refusal_with_the_accounts_code(
        ac_crm: tuple[FakeActiveCampaign, ActiveCampaignCrm, str]) -> None:
    _, crm, person = ac_crm
    with pytest.raises(PermanentProviderError) as info:
        crm.client.set_field(person, "99", "x")
    assert info.value.code == "related_missing"
    with pytest.raises(PermanentProviderError) as missing:
        crm.client.field_values("999")
    assert missing.value.code == "404" and "999" not in str(missing.value)


def test_a_retried_note_or_task_is_created_once_and_an_unanswered_one_is_found(
        ac_crm: tuple[FakeActiveCampaign, ActiveCampaignCrm, str]) -> None:
    fake, crm, person = ac_crm
    for _ in range(2):
        crm.append_note(f"activecampaign:{person}", "Left a voicemail", "note-1")
        crm.create_task("cal-owner", "Call Jane back", "task-1", contact_id=f"activecampaign:{person}")
    (note,) = fake.notes.values()
    assert note["reltype"] == "Subscriber" and note["relid"] == person
    (task,) = fake.tasks.values()
    assert (task["ownerType"], task["relid"], task["dealTasktype"], task["assignee"]) == ("contact", person, "3",
                                                                                          "1")
    assert task["duedate"].startswith("2026-01-07")
    crm.creates._begin("note-9", "note")  # the POST reached ActiveCampaign, the answer was lost
    fake.notes["555"] = {"id": "555", "note": f"x\n(ref {marker('note-9')})", "relid": person,
                         "reltype": "Subscriber"}
    crm.append_note(f"activecampaign:{person}", "x", "note-9")
    assert crm.creates.record_id("note-9") == (True, "555") and len(fake.calls("POST", "/api/3/notes")) == 1
    crm.create_task(None, "No contact", "task-2")  # nothing to attach it to: local only
    assert len(fake.tasks) == 1
    crm.contact_lookup = lambda cid: None
    with pytest.raises(PermanentProviderError) as info:
        crm.append_note("hubspot:1", "x", "note-3")
    assert info.value.code == "unknown_contact"


def test_settings_select_activecampaign_and_name_what_is_missing(monkeypatch: pytest.MonkeyPatch,
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
    missing = settings_from({"crm_provider": "activecampaign", "activecampaign_fields": '{"outcome": "Outcome"}'})
    with pytest.raises(ProviderConfigError) as info:
        writeback(missing, calendar, crm, [CrmRules()])
    for hint in ("NOSHOW_ACTIVECAMPAIGN_API_URL", "NOSHOW_ACTIVECAMPAIGN_API_TOKEN", "numeric custom field ids"):
        assert hint in str(info.value), hint
    ready = settings_from({"crm_provider": "activecampaign", "activecampaign_api_url": "https://acme.api-us1.com",
                           "activecampaign_api_token": "ac-secret-token", "activecampaign_fields": '{"outcome": "7"}'})
    _, engine_crm = writeback(ready, calendar, crm, [CrmRules()])
    assert isinstance(engine_crm, WritebackCrm) and isinstance(engine_crm.remote, ActiveCampaignCrm)
    assert engine_crm.remote.client.base_url == "https://acme.api-us1.com/api/3" and engine_crm.marker is None
    assert {c.name: c.status for c in writeback_checks(ready)}["crm"] == "ok"


def test_an_owner_task_through_the_engines_crm_reaches_the_contact_and_an_unknown_one_stays_local(
        ac_crm: tuple[FakeActiveCampaign, ActiveCampaignCrm, str], tmp_path: Path) -> None:
    from connectors.local.crm import LocalCrm
    from connectors.writeback import WritebackCrm

    fake, crm, person = ac_crm
    local = LocalCrm(LocalDb(tmp_path / "local.db"))
    engine = WritebackCrm(local, crm)
    engine.create_task("1", "Call Jane back", "case-1-task", contact_id=f"activecampaign:{person}")
    (task,) = fake.tasks.values()
    assert task["relid"] == person and task["title"].startswith("Call Jane back")
    crm.contact_lookup = lambda cid: None
    engine.create_task("1", "Call someone", "case-2-task", contact_id="hubspot:9")  # nobody at ActiveCampaign
    assert len(fake.tasks) == 1
    with local.db.connect() as conn:
        keys = {r[0] for r in conn.execute("SELECT idempotency_key FROM crm_tasks").fetchall()}
    assert keys == {"case-1-task", "case-2-task"}
