"""ServiceTitan specifics beyond the kit: the client-credentials token at the auth host plus `ST-App-Key`, the
appointment poll with its `modifiedOnOrAfter` cursor and pages, failed-access cancel reasons read as no-shows,
each write shaped as the v2 spec documents it, and no webhook route (the signature scheme is unpublished)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.contract import PermanentProviderError, SlotUnavailable
from connectors.oauth import ClientCredentialsGrant, MemoryTokenStore, TokenManager
from connectors.servicetitan.client import ServiceTitanClient
from connectors.servicetitan.source import ServiceTitanSource
from tests.connectors.cases_servicetitan import APP_KEY, TENANT
from tests.connectors.kit import fixture_json
from tests.fakes.servicetitan_fake import FakeServiceTitan
from tests.helpers import settings_from

NO_ACCESS, CUSTOMER_CANCELLED = 7, 8


def _client(fake: FakeServiceTitan, tenant: str = TENANT) -> ServiceTitanClient:
    token = TokenManager("servicetitan", f"{tenant}:cid.st", fake.base_url + "/connect/token",
                         ClientCredentialsGrant("cid.st", "st-secret"), MemoryTokenStore())
    return ServiceTitanClient(token, APP_KEY, tenant, base_url=fake.base_url)


def test_the_token_is_a_client_credentials_grant_and_every_call_carries_it_and_the_app_key() -> None:
    with FakeServiceTitan() as fake:
        client = _client(fake)
        assert client.probe() == 0
        client.probe()
        [grant] = fake.calls("POST", "/connect/token")
        assert grant.form() == {"grant_type": "client_credentials", "client_id": "cid.st", "client_secret": "st-secret"}
        for call in fake.calls("GET", "/appointments"):
            assert call.headers["authorization"] == "Bearer st-access-1" and call.headers["st-app-key"] == APP_KEY
            assert call.path == f"/jpm/v2/tenant/{TENANT}/appointments"


def test_a_token_refused_before_its_expiry_is_replaced_once() -> None:
    with FakeServiceTitan() as fake:
        client = _client(fake)
        client.probe()
        fake.issued.clear()  # revoked on ServiceTitan's side
        client.probe()
        assert len(fake.calls("POST", "/connect/token")) == 2
        fake.issued.clear()
        fake.client_secret = "rotated-in-the-portal"
        with pytest.raises(PermanentProviderError):
            client.probe()


def test_a_wrong_tenant_or_app_key_is_permanent() -> None:
    with FakeServiceTitan() as fake:
        with pytest.raises(PermanentProviderError) as info:
            _client(fake, tenant="999").probe()
        assert info.value.code == "not_found"
        fake.app_key = "another-app"
        with pytest.raises(PermanentProviderError) as info:
            _client(fake).probe()
        assert info.value.code == "unauthorized"
    with pytest.raises(ValueError):
        ServiceTitanClient("t", APP_KEY, "tenant-name")


def _seeded(fake: FakeServiceTitan, now: datetime) -> dict[str, int]:
    customer = fake.add_customer("Dana Smith", "dana@example.com", "+15555550123")
    other = fake.add_customer("Lee Park", "lee@example.com", "+15555550124")
    missed_job, missed = fake.add_job(customer, now - timedelta(hours=3), now - timedelta(hours=1))
    cancelled_job, cancelled = fake.add_job(other, now + timedelta(days=1), now + timedelta(days=1, hours=2))
    _, done = fake.add_job(other, now - timedelta(hours=6), now - timedelta(hours=5), status="Done")
    _, upcoming = fake.add_job(customer, now + timedelta(days=2), now + timedelta(days=2, hours=1))
    return {"missed": missed, "missed_job": missed_job, "cancelled": cancelled, "cancelled_job": cancelled_job,
            "done": done, "upcoming": upcoming, "customer": customer}


def test_the_poll_reads_each_outcome_with_the_customer_and_a_failed_access_reason_is_a_no_show() -> None:
    now = datetime.now(UTC)
    with FakeServiceTitan(page_size_cap=2) as fake:
        ids = _seeded(fake, now)
        client = _client(fake)
        client.cancel_job(str(ids["missed_job"]), str(NO_ACCESS), "Tech on site, no one home")
        client.cancel_job(str(ids["cancelled_job"]), str(CUSTOMER_CANCELLED), "Customer called")
        page = ServiceTitanSource(client, [str(NO_ACCESS)]).poll(None, now)
        status = {s.appointment.appointment_id: s.status for s in page.snapshots}
        assert status == {str(ids["missed"]): "no_show", str(ids["cancelled"]): "cancelled",
                          str(ids["done"]): "attended", str(ids["upcoming"]): "active"}
        missed = next(s for s in page.snapshots if s.status == "no_show").appointment
        assert missed.contact.contact_id == f"servicetitan:{ids['customer']}"
        assert (missed.contact.name, missed.contact.email, missed.contact.phone) == (
            "Dana Smith", "dana@example.com", "+15555550123")
        assert missed.calendar_id == "11" and missed.categories == ["21"]
        assert len(fake.calls("GET", "/appointments")) == 2  # two pages of two
        [reasons] = fake.calls("GET", "/jobs/cancel-reasons")
        assert sorted(reasons.query["ids"].split(",")) == sorted([str(ids["missed_job"]), str(ids["cancelled_job"])])
        assert len(fake.calls("GET", "/contacts")) == 2  # each customer read once


def test_the_cursor_is_the_latest_modification_and_the_next_poll_asks_from_it() -> None:
    now = datetime.now(UTC)
    with FakeServiceTitan() as fake:
        _seeded(fake, now)
        source = ServiceTitanSource(_client(fake), [str(NO_ACCESS)])
        first = source.poll(None, now)
        latest = max(a["modifiedOn"] for a in fake.appointments.values())
        assert first.cursor is not None and datetime.fromisoformat(first.cursor) == datetime.fromisoformat(
            latest.replace("Z", "+00:00"))
        asked = fake.calls("GET", "/appointments")[-1].query["modifiedOnOrAfter"]
        assert datetime.fromisoformat(asked.replace("Z", "+00:00")) <= now - timedelta(hours=23)
        for a in fake.appointments.values():
            a["modifiedOn"] = "2020-01-01T00:00:00Z"  # nothing changed since
        second = source.poll(first.cursor, now)
        assert second.snapshots == [] and second.cursor == first.cursor
        assert fake.calls("GET", "/appointments")[-1].query["modifiedOnOrAfter"] == first.cursor[:19] + "Z"


def test_documented_answers_parse_into_snapshots() -> None:
    rows = fixture_json("servicetitan", "appointments_page.json")["data"]
    jobs = {str(j["id"]): j for j in fixture_json("servicetitan", "jobs_page.json")["data"]}
    reasons = {str(r["jobId"]): str(r["reasonId"]) for r in fixture_json("servicetitan", "cancel_reasons.json")["data"]}
    with FakeServiceTitan() as fake:
        source = ServiceTitanSource(_client(fake), [str(NO_ACCESS)])
        snaps = [source.snapshot(r, jobs[str(r["jobId"])], reasons.get(str(r["jobId"])), ({}, [])) for r in rows]
    assert [s.status if s else None for s in snaps] == ["no_show", "attended", "cancelled"]
    first = snaps[0]
    assert first is not None and first.appointment.start == datetime(2026, 1, 6, 14, tzinfo=UTC)
    assert first.changed_at == datetime(2026, 1, 6, 15, 10, 0, 123000, tzinfo=UTC)
    assert first.appointment.contact.contact_id == "servicetitan:41001"


def test_writes_are_shaped_as_documented() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    with FakeServiceTitan() as fake:
        ids = _seeded(fake, now)
        client = _client(fake)
        client.cancel_job(str(ids["cancelled_job"]), "8", "Customer asked")
        [cancel] = fake.calls("PUT", "/cancel")
        assert cancel.path == f"/jpm/v2/tenant/{TENANT}/jobs/{ids['cancelled_job']}/cancel"
        assert cancel.json() == {"reasonId": 8, "memo": "Customer asked"}
        with pytest.raises(PermanentProviderError):
            client.cancel_job(str(ids["cancelled_job"]), "", "no reason")

        start = now + timedelta(days=5)
        moved = client.reschedule(str(ids["upcoming"]), start, start + timedelta(hours=1),
                                  (start, start + timedelta(minutes=30)))
        [patch] = fake.calls("PATCH", "/reschedule")
        assert patch.json() == {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                "end": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                "arrivalWindowStart": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                "arrivalWindowEnd": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        assert moved["id"] == ids["upcoming"]
        busy = fake.appointments[ids["done"]]
        with pytest.raises(SlotUnavailable):  # 409: another appointment holds that time
            client.reschedule(str(ids["upcoming"]), datetime.fromisoformat(busy["start"].replace("Z", "+00:00")),
                              datetime.fromisoformat(busy["end"].replace("Z", "+00:00")))

        client.hold(str(ids["upcoming"]), "3", "Waiting for a new time")
        assert fake.calls("PUT", "/hold")[0].json() == {"reasonId": 3, "memo": "Waiting for a new time"}
        assert fake.appointments[ids["upcoming"]]["status"] == "Hold"

        client.add_job_note(str(ids["missed_job"]), "Missed visit: reschedule offered")
        assert fake.calls("POST", "/notes")[0].json() == {"text": "Missed visit: reschedule offered", "pinToTop": False}

        task = {"reportedById": 1, "assignedToId": 2, "isClosed": False, "name": "Reschedule missed visit",
                "businessUnitId": 11, "employeeTaskTypeId": 5, "employeeTaskSourceId": 6,
                "reportedDate": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "priority": "High",
                "customerId": ids["customer"], "jobId": ids["missed_job"]}
        task_id = client.create_task(task)
        assert fake.tasks[int(task_id)]["name"] == "Reschedule missed visit"
        assert fake.calls("POST", "/tasks")[0].path == f"/taskmanagement/v2/tenant/{TENANT}/tasks"
        with pytest.raises(PermanentProviderError) as info:
            client.create_task({"name": "incomplete"})
        assert info.value.code == "bad_request"


def test_servicetitan_is_polled_and_has_no_webhook_route() -> None:
    from workers.providers.inbound import inbound_connectors
    from workers.providers.sources import reconcile_checks

    ready = settings_from({"servicetitan_tenant_id": TENANT, "servicetitan_client_id": "cid.st",
                           "servicetitan_client_secret": "st-secret", "servicetitan_app_key": APP_KEY})
    [check] = [c for c in reconcile_checks(ready) if c.name == "servicetitan"]
    assert check.status == "ok"
    routes, checks = inbound_connectors(ready)
    assert "servicetitan" not in routes and all(c.name != "servicetitan" for c in checks)
    bad = settings_from({"servicetitan_tenant_id": "acme", "servicetitan_client_id": "cid.st",
                         "servicetitan_client_secret": "st-secret"})
    [check] = [c for c in reconcile_checks(bad) if c.name == "servicetitan"]
    assert check.status == "error" and "NOSHOW_SERVICETITAN_APP_KEY" in check.detail
    assert "NOSHOW_SERVICETITAN_TENANT_ID" in check.detail


def test_crm_notes_go_on_the_customer_once_and_tasks_carry_the_tenant_ids(tmp_path: Path) -> None:
    from connectors.contract import AmbiguousSendError
    from connectors.crm_fields import UNKNOWN_CONTACT
    from connectors.local.db import LocalDb
    from connectors.local.remote_creates import CreateLog, marker
    from connectors.servicetitan.crm import ServiceTitanCrm, TaskIds

    now = datetime.now(UTC)
    with FakeServiceTitan() as fake:
        ids = _seeded(fake, now)
        contact = f"servicetitan:{ids['customer']}"
        crm = ServiceTitanCrm(_client(fake), CreateLog(LocalDb(tmp_path / "local.db"), "servicetitan"),
                              TaskIds(reporter=1, assignee=2, business_unit=11, task_type=5, task_source=6))
        crm.append_note(contact, "Missed visit: no access", "case-1:note:1")
        crm.append_note(contact, "Missed visit: no access", "case-1:note:1")  # a retry
        [note] = fake.customer_notes[ids["customer"]]
        assert note["text"].startswith("Missed visit: no access (ref nsk")
        fake.reset_next()
        with pytest.raises(AmbiguousSendError):
            crm.append_note(contact, "Offered times", "case-1:note:2")
        fake.customer_notes[ids["customer"]].append({"text": f"Offered times (ref {marker('case-1:note:2')})"})
        crm.append_note(contact, "Offered times", "case-1:note:2")  # found by its marker: not made twice
        assert len(fake.customer_notes[ids["customer"]]) == 2
        with pytest.raises(PermanentProviderError) as info:
            crm.append_note("jobber:abc", "not ours", "case-2:note:1")
        assert info.value.code == UNKNOWN_CONTACT

        crm.create_task(None, "Reschedule the missed visit", "case-1:task:1", contact_id=contact)
        crm.create_task(None, "Reschedule the missed visit", "case-1:task:1", contact_id=contact)
        [task] = fake.tasks.values()
        assert (task["reportedById"], task["assignedToId"], task["businessUnitId"], task["employeeTaskTypeId"],
                task["employeeTaskSourceId"], task["customerId"]) == (1, 2, 11, 5, 6, ids["customer"])
        assert task["priority"] == "High" and task["isClosed"] is False
        untasked = ServiceTitanCrm(_client(fake), CreateLog(LocalDb(tmp_path / "local.db"), "servicetitan"))
        untasked.create_task(None, "stays local", "case-3:task:1", contact_id=contact)
        assert len(fake.tasks) == 1


def test_servicetitan_as_the_crm_is_checked() -> None:
    from workers.providers.writeback import writeback_checks

    env = {"crm_provider": "servicetitan", "servicetitan_tenant_id": TENANT, "servicetitan_client_id": "cid.st",
           "servicetitan_client_secret": "st-secret", "servicetitan_app_key": APP_KEY}
    [crm] = [c for c in writeback_checks(settings_from(env)) if c.name == "crm"]
    assert crm.status == "ok" and "ServiceTitan" in crm.detail
    [crm] = [c for c in writeback_checks(settings_from({**env, "servicetitan_task_type_id": "5"})) if c.name == "crm"]
    assert crm.status == "error" and "NOSHOW_SERVICETITAN_TASK_" in crm.detail
    [crm] = [c for c in writeback_checks(settings_from({"crm_provider": "servicetitan"})) if c.name == "crm"]
    assert crm.status == "error" and "NOSHOW_SERVICETITAN_APP_KEY" in crm.detail


def test_the_live_probe_reads_one_page_and_reports_a_refusal_by_its_code() -> None:
    from workers.providers.live import live_checks

    with FakeServiceTitan() as fake:
        env = {"servicetitan_tenant_id": TENANT, "servicetitan_client_id": "cid.st",
               "servicetitan_client_secret": "st-secret", "servicetitan_app_key": APP_KEY,
               "servicetitan_auth_url": fake.base_url + "/connect/token", "servicetitan_base_url": fake.base_url}
        [check] = [c for c in live_checks(settings_from(env)) if c.name == "servicetitan"]
        assert check.status == "ok" and TENANT in check.detail
        [probe] = fake.calls("GET", "/appointments")
        assert probe.query == {"page": "1", "pageSize": "1"}
        fake.app_key = "revoked"
        [check] = [c for c in live_checks(settings_from(env)) if c.name == "servicetitan"]
        assert check.status == "error" and "unauthorized" in check.detail and "st-secret" not in check.detail


def test_reschedule_tasks_on_a_miss_are_off_by_default_and_need_the_task_ids(tmp_path: Path) -> None:
    from connectors.local.db import LocalDb
    from workers.providers.servicetitan import TASK_ON_MISS_NEEDS, reschedule_task_openers
    from workers.providers.sources import reconcile_checks

    creds = {"servicetitan_tenant_id": TENANT, "servicetitan_client_id": "cid.st",
             "servicetitan_client_secret": "st-secret", "servicetitan_app_key": APP_KEY}
    ids = {"servicetitan_task_reporter_id": "61", "servicetitan_task_assignee_id": "62",
           "servicetitan_task_type_id": "63", "servicetitan_task_source_id": "64",
           "servicetitan_business_unit_id": "11"}
    db = LocalDb(tmp_path / "local.db")
    assert reschedule_task_openers(settings_from({**creds, **ids}), db) == {}  # off unless asked for
    asked = settings_from({**creds, "servicetitan_reschedule_task_on_miss": "true"})
    assert reschedule_task_openers(asked, db) == {}
    [check] = [c for c in reconcile_checks(asked) if c.name == "servicetitan"]
    assert check.status == "error" and TASK_ON_MISS_NEEDS in check.detail
    on = settings_from({**creds, **ids, "servicetitan_reschedule_task_on_miss": "true"})
    assert set(reschedule_task_openers(on, db)) == {"servicetitan"}
    [check] = [c for c in reconcile_checks(on) if c.name == "servicetitan"]
    assert check.status == "ok"


def test_a_reschedule_task_names_the_job_and_the_miss_only(tmp_path: Path) -> None:
    from connectors.local.db import LocalDb
    from connectors.local.remote_creates import CreateLog
    from connectors.servicetitan.crm import TaskIds
    from connectors.servicetitan.reschedule_tasks import ServiceTitanRescheduleTasks

    with FakeServiceTitan() as fake:
        start = datetime.now(UTC)
        job, appointment = fake.add_job(fake.add_customer("Pat Example", "pat@example.com", "+15551230001"),
                                        start, start + timedelta(hours=1))
        tasks = ServiceTitanRescheduleTasks(_client(fake), CreateLog(LocalDb(tmp_path / "local.db"),
                                                                     "servicetitan"), TaskIds(61, 62, 11, 63, 64))
        assert tasks.open(str(appointment), "customer_cancel", "case-1-reschedule-task") is None
        first = tasks.open(str(appointment), "no_show", "case-1-reschedule-task")
        assert tasks.open(str(appointment), "no_show", "case-1-reschedule-task") == first  # once per key
        [task] = fake.tasks.values()
        assert str(task["id"]) == first and task["jobId"] == job
        assert task["name"] == f"Reschedule missed job #{job} (no-show)"
        assert "Pat" not in task["description"] and "example.com" not in task["description"]
        with pytest.raises(PermanentProviderError):
            tasks.open("999999", "no_show", "case-2-reschedule-task")  # no such appointment
