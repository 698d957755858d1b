"""Reconciliation wired end to end on the real dev server: Cal.com fake as the source, the SQLite index and
cursor store, delivery through CaseService into the real case workflow, and the per-source Schedule."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType as HistoryEventType
from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleOverlapPolicy
from temporalio.worker import Worker

from activities.case_events import CaseEventActivities
from connectors.local.db import LocalDb
from connectors.local.reconcile_state import SqliteAppointmentIndex, SqliteCursorStore
from domain.models import EventType
from domain.reconcile import DeliverEvents, ReconcileInput, ReconcileResult
from tests.connectors.cases_gohighlevel import PUBLIC_PEM as GHL_PUBLIC_PEM
from tests.connectors.cases_salesforce import KEY_PEM
from tests.engine.conftest import settings_for
from tests.fakes.providers import FakeCalcom
from tests.helpers import eventually, fast_policy, settings_from
from workers.dependencies import Dependencies, build_dependencies
from workers.intake.cases import CaseService
from workers.providers.sources import reconcile_activities, reconcile_sources
from workers.temporal.schedules import ensure_schedules, schedule_id
from workers.worker import case_activities
from workflows.case import RecoveryCaseWorkflow
from workflows.reconcile import ReconcileSourceWorkflow


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _booking(uid: str, start: datetime, updated: datetime) -> dict[str, Any]:
    return {"uid": uid, "status": "accepted", "start": _iso(start), "end": _iso(start + timedelta(minutes=30)),
            "eventTypeId": 7, "eventType": {"id": 7, "slug": "consultation"}, "hosts": [{"id": 5}],
            "updatedAt": _iso(updated),
            "attendees": [{"name": "John Doe", "email": "john@example.com", "timeZone": "UTC", "absent": False}]}


@dataclass
class Wiring:
    client: Client
    task_queue: str
    deps: Dependencies
    cases: CaseService
    fake: FakeCalcom

    async def reconcile(self) -> ReconcileResult:
        # what the Schedule starts: fixed input, no cursor
        return await self.client.execute_workflow(
            ReconcileSourceWorkflow.run, ReconcileInput(source="calcom", deliver=True),
            id=f"reconcile-calcom-manual-{uuid.uuid4().hex[:8]}", task_queue=self.task_queue,
            result_type=ReconcileResult)

    def add_missed_booking(self) -> str:
        uid = f"b{uuid.uuid4().hex[:12]}"
        now = datetime.now(UTC)
        self.fake.bookings[uid] = _booking(uid, (now + timedelta(days=2)).replace(microsecond=0), now)
        return uid


@pytest_asyncio.fixture
async def wiring(client: Client, task_queue: str, tmp_path: Path) -> AsyncIterator[Wiring]:
    deps = build_dependencies(settings_for(tmp_path, task_queue, fast_policy()))
    cases = CaseService(client, deps)
    with FakeCalcom() as fake:
        sources = reconcile_sources(settings_from({"calcom_api_key": "cal_test",
                                                   "calcom_base_url": fake.base_url + "/v2"}))
        assert list(sources) == ["calcom"]
        with ThreadPoolExecutor(16) as pool:
            activities = [*case_activities(deps, client), *reconcile_activities(sources, deps.db, cases, deps.settings)]
            worker = Worker(client, task_queue=task_queue, workflows=[RecoveryCaseWorkflow, ReconcileSourceWorkflow],
                            activities=activities, activity_executor=pool)
            async with worker:
                wiring = Wiring(client, task_queue, deps, cases, fake)  # type: ignore[arg-type]
                try:
                    yield wiring
                finally:
                    await _terminate_cases(client, task_queue)


async def _terminate_cases(client: Client, task_queue: str) -> None:
    async for wf in client.list_workflows(f"TaskQueue = '{task_queue}' AND ExecutionStatus = 'Running'"):
        await client.get_workflow_handle(wf.id).terminate("test over")


async def _case_ids(client: Client, task_queue: str) -> list[str]:
    query = f"TaskQueue = '{task_queue}' AND WorkflowType = 'RecoveryCase'"
    return [wf.id async for wf in client.list_workflows(query)]


async def _booked_notes(client: Client, case_id: str) -> int:
    state = await client.get_workflow_handle_for(RecoveryCaseWorkflow.run, case_id).query(  # type: ignore[arg-type]
        RecoveryCaseWorkflow.state_query)
    return sum(1 for t in state.timeline if t.what == f"event {EventType.booked.value}")


async def _signals_settled(client: Client, case_id: str, signals: int) -> bool:
    """`signals` appointment_event signals are in the history and a workflow task completed after the last."""
    events = [e async for e in client.get_workflow_handle(case_id).fetch_history_events()]
    seen, settled = 0, False
    for e in events:
        if e.event_type == HistoryEventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            seen += e.workflow_execution_signaled_event_attributes.signal_name == "appointment_event"
            settled = False
        elif e.event_type == HistoryEventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            settled = True
    return seen == signals and settled


async def test_a_missed_booking_becomes_exactly_one_case_and_reruns_change_nothing(wiring: Wiring,
                                                                                   tmp_path: Path) -> None:
    client, tq = wiring.client, wiring.task_queue

    # first run ever: a baseline that stores where it got to
    baseline = await wiring.reconcile()
    assert baseline.events == [] and baseline.cursor
    assert SqliteCursorStore(wiring.deps.db).get("calcom") == baseline.cursor

    # a booking whose BOOKING_CREATED webhook never arrived (Cal.com does not retry)
    uid = wiring.add_missed_booking()
    found = await wiring.reconcile()
    assert [(e.type, e.appointment.appointment_id) for e in found.events] == [(EventType.booked, uid)]
    sent_after = wiring.fake.calls("GET", "/v2/bookings")[-1].query["afterUpdatedAt"]
    assert sent_after.startswith(baseline.cursor[:19])  # the scheduled input had no cursor: the store supplied it
    case_id = wiring.cases.case_id("calcom", uid)
    assert await eventually(lambda: _case_ids(client, tq), lambda ids: len(ids) >= 1) == [case_id]
    assert await eventually(lambda: _booked_notes(client, case_id), lambda n: n >= 1) == 1

    # the same source polled again: nothing new, no second case, no second event
    again = await wiring.reconcile()
    assert again.events == [] and again.cursor == found.cursor
    assert SqliteCursorStore(wiring.deps.db).get("calcom") == found.cursor

    # a retried delivery (the activity failed after submitting) re-sends the same event: the case ignores it
    outcomes = await CaseEventActivities(wiring.cases).deliver_appointment_events(
        DeliverEvents(source="calcom", events=found.events))
    assert [(o.case_id, o.status) for o in outcomes.outcomes] == [(case_id, "accepted")]
    await eventually(lambda: _signals_settled(client, case_id, 2), bool)
    assert await _booked_notes(client, case_id) == 1
    assert await _case_ids(client, tq) == [case_id]

    # what was seen survives a restart: a fresh store on the same file knows the booking and the cursor
    reopened = LocalDb(wiring.deps.settings.storage.database)
    entry = SqliteAppointmentIndex(reopened).get("calcom", uid)
    assert entry is not None and entry.status == "active"
    assert SqliteCursorStore(reopened).get("calcom") == found.cursor


async def _nth_run(client: Client, sid: str, n: int) -> ReconcileResult:
    handle = client.get_schedule_handle(sid)
    desc = await eventually(handle.describe, lambda d: len(d.info.recent_actions) >= n)
    action = desc.info.recent_actions[n - 1].action
    run = client.get_workflow_handle_for(ReconcileSourceWorkflow.run, action.workflow_id)  # type: ignore[attr-defined]
    return await asyncio.wait_for(run.result(), timeout=30)


async def test_ensure_schedules_creates_one_schedule_per_source_and_is_idempotent(wiring: Wiring) -> None:
    client, tq = wiring.client, wiring.task_queue
    sid = schedule_id("calcom")
    try:
        assert await ensure_schedules(client, {"calcom": object()}, tq, timedelta(minutes=15)) == [sid]
        handle = client.get_schedule_handle(sid)
        desc = await handle.describe()
        action = desc.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.id, action.task_queue) == ("ReconcileSourceWorkflow", sid, tq)
        [inp] = await client.data_converter.decode(list(action.args), [ReconcileInput])  # type: ignore[arg-type]
        assert inp == ReconcileInput(source="calcom", cursor=None, deliver=True)
        assert [i.every for i in desc.schedule.spec.intervals] == [timedelta(minutes=15)]
        assert desc.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP

        # a scheduled run (fixed input) baselines, a later one finds the missed booking through the stored cursor
        await handle.trigger()
        assert (await _nth_run(client, sid, 1)).events == []
        uid = wiring.add_missed_booking()
        await handle.trigger()
        second = await _nth_run(client, sid, 2)
        assert [e.appointment.appointment_id for e in second.events] == [uid]
        case_id = wiring.cases.case_id("calcom", uid)
        await eventually(lambda: _case_ids(client, tq), lambda ids: ids == [case_id])

        # again, with a new period, on a schedule an operator paused: updated in place, still paused
        await handle.pause(note="maintenance")
        assert await ensure_schedules(client, ["calcom"], tq, timedelta(minutes=30)) == [sid]
        desc = await handle.describe()
        assert [i.every for i in desc.schedule.spec.intervals] == [timedelta(minutes=30)]
        assert desc.schedule.state.paused and desc.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
        ids = [s.id async for s in await client.list_schedules()]
        assert ids.count(sid) <= 1  # visibility may lag; there is never a second one
    finally:
        await client.get_schedule_handle(sid).delete()


@pytest.mark.parametrize("env, expected", [
    ({}, {}),
    ({"calcom_api_key": "cal_live_x"}, {"calcom": "ok"}),
    ({"calendly_token": "t"}, {"calendly": "error"}),
    ({"google_access_token": "t", "google_calendar_id": "ops@example.org", "graph_user": "u@example.org"},
     {"google": "ok", "outlook": "error"}),
    ({"hubspot_access_token": "t", "hubspot_base_url": "api.hubapi.com"}, {"hubspot": "error"}),
    ({"activecampaign_api_token": "t", "activecampaign_api_url": "https://acme.api-us1.com"},
     {"activecampaign": "ok"}),
    ({"activecampaign_api_token": "t"}, {"activecampaign": "error"}),
    ({"activecampaign_api_url": "https://acme.api-us1.com"}, {"activecampaign": "error"}),
    ({"gohighlevel_access_token": "t", "gohighlevel_location_id": "loc1", "gohighlevel_calendar_id": "cal1"},
     {"gohighlevel": "ok"}),
    ({"gohighlevel_access_token": "t", "gohighlevel_location_id": "loc1", "gohighlevel_group_id": "grp1"},
     {"gohighlevel": "ok"}),
    ({"gohighlevel_access_token": "t", "gohighlevel_calendar_id": "cal1"}, {"gohighlevel": "error"}),
])
def test_sources_from_settings(env: dict[str, str], expected: dict[str, str]) -> None:
    from workers.providers.sources import reconcile_checks

    rs = settings_from(env)
    checks = {c.name: c.status for c in reconcile_checks(rs) if c.status != "off"}
    assert checks == expected
    assert sorted(reconcile_sources(rs)) == sorted(k for k, v in expected.items() if v == "ok")


# ---------------------------------------------------------------------------- noshow connectors check

PROVIDER_ENV = ("NOSHOW_", "TWILIO_", "SENDGRID_", "SLACK_")


def _check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str]) -> Any:
    import os

    import typer
    from typer.testing import CliRunner

    from workers.cli.connectors import connectors_check

    monkeypatch.chdir(tmp_path)  # no stray .env file
    for name in list(os.environ):
        if name.startswith(PROVIDER_ENV):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = typer.Typer()
    app.command("check")(connectors_check)

    @app.callback()
    def connectors() -> None:
        """keeps `check` a subcommand, as under `noshow connectors`"""

    result = CliRunner().invoke(app, ["check", "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for value in env.values():  # no secret is ever echoed
        if len(value) > 12 and not value.startswith("http"):
            assert value not in result.output
    return result


def _statuses(result: Any) -> dict[str, str]:
    import json

    data = json.loads(result.output)
    return {f"{section}/{c['name']}": c["status"] for section, checks in data.items() if section != "errors"
            for c in checks}


def _vapid_private_key() -> str:
    from py_vapid import Vapid02

    vapid = Vapid02()
    vapid.generate_keys()
    return str(vapid.private_pem().decode())


def _p256_public_key() -> str:
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    der = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def test_check_with_nothing_configured_is_clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result = _check(monkeypatch, tmp_path, {})
    assert result.exit_code == 0
    statuses = _statuses(result)
    assert statuses["webhooks/events"] == "ok" and statuses["webhooks/calcom"] == "off"
    assert statuses["outbound/twilio-send"] == "off" and statuses["reconcile/calcom"] == "off"
    assert "development secret" in result.output


SPREADSHEET = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"


def test_check_everything_configured_well(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # with nothing configured the check lists every registered webhook, channel, write-back and reconcile source
    # (off): each of them must be ok below, so a source registered but not configured or not wired here fails.
    # A sheet is a reconcile source only once it is named (the Google credential alone is the calendar's).
    registered = _statuses(_check(monkeypatch, tmp_path, {"NOSHOW_SHEETS_SPREADSHEET_ID": SPREADSHEET}))
    result = _check(monkeypatch, tmp_path, {
        "NOSHOW_WEBHOOK_SECRET": "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "NOSHOW_CALCOM_WEBHOOK_SECRET": "calsecret-0123456789", "NOSHOW_CALENDLY_SIGNING_KEY": "calendlykey-01234",
        "NOSHOW_GRAPH_CLIENT_STATE": "graph-state-0123456", "NOSHOW_HUBSPOT_CLIENT_SECRET": "hs-client-secret-01",
        "NOSHOW_ZOOM_SECRET_TOKEN": "zoom-secret-token-01", "NOSHOW_GOOGLE_CHANNELS": "true",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "twilio-auth-token-01",
        "TWILIO_FROM_NUMBER": "+15557654321", "TWILIO_WHATSAPP_FROM": "whatsapp:+15557654322",
        "SENDGRID_API_KEY": "SG.key-id.key-secret-0123", "SENDGRID_FROM_EMAIL": "bookings@example.com",
        "SENDGRID_EVENT_VERIFICATION_KEY": _p256_public_key(), "SENDGRID_PARSE_TOKEN": "parse-token-0123456789",
        "SLACK_BOT_TOKEN": "xoxb-1-2-abcdefghijkl", "SLACK_SIGNING_SECRET": "slack-signing-secret",
        "SLACK_REVIEW_CHANNEL": "C123ABC456", "NOSHOW_SLACK_REVIEWERS": "U123",
        "NOSHOW_SMS_PROVIDER": "twilio", "NOSHOW_EMAIL_PROVIDER": "sendgrid", "NOSHOW_REVIEW_NOTIFIER": "slack",
        "NOSHOW_CALCOM_API_KEY": "cal_live_0123456789", "NOSHOW_CALENDLY_TOKEN": "calendly-pat-0123456",
        "NOSHOW_CALENDLY_USER_URI": "https://api.calendly.com/users/AAAA",
        "NOSHOW_HUBSPOT_ACCESS_TOKEN": "pat-na1-0123456789", "NOSHOW_GOOGLE_ACCESS_TOKEN": "ya29.token-0123456",
        "NOSHOW_GOOGLE_CALENDAR_ID": "ops@example.org", "NOSHOW_GRAPH_ACCESS_TOKEN": "graph-token-0123456",
        "NOSHOW_GRAPH_USER": "ops@example.org",
        "NOSHOW_CALENDAR_PROVIDER": "google", "NOSHOW_CRM_PROVIDER": "hubspot",
        "NOSHOW_SALESFORCE_CLIENT_ID": "3MVG9-consumer", "NOSHOW_SALESFORCE_USERNAME": "integration@example.com",
        "NOSHOW_SALESFORCE_PRIVATE_KEY": KEY_PEM, "NOSHOW_ZOHO_CLIENT_ID": "1000.ABC",
        "NOSHOW_ZOHO_CLIENT_SECRET": "zoho-secret-01", "NOSHOW_ZOHO_REFRESH_TOKEN": "1000.refresh.01",
        "NOSHOW_ZOHO_CHANNEL_TOKEN": "zoho-channel-token-01",
        "NOSHOW_PIPEDRIVE_API_TOKEN": "pd-api-token-01", "NOSHOW_PIPEDRIVE_WEBHOOK_USER": "hookuser",
        "NOSHOW_PIPEDRIVE_WEBHOOK_PASSWORD": "pd-hook-password-01",
        "NOSHOW_ACTIVECAMPAIGN_WEBHOOK_TOKEN": "ac-url-token-0123456789",
        "NOSHOW_GOHIGHLEVEL_WEBHOOK_PUBLIC_KEY": GHL_PUBLIC_PEM,
        "NOSHOW_ACTIVECAMPAIGN_API_URL": "https://acme.api-us1.com", "NOSHOW_ACTIVECAMPAIGN_API_TOKEN": "ac-api-key-01",
        "NOSHOW_GOHIGHLEVEL_ACCESS_TOKEN": "pit-0123456789", "NOSHOW_GOHIGHLEVEL_LOCATION_ID": "ve9EPM428h8vShlRW1KT",
        "NOSHOW_GOHIGHLEVEL_CALENDAR_ID": "BqTwX8QFwXzpegMve9EQ",
        "NOSHOW_ZENDESK_WEBHOOK_SECRET": "zd-signing-secret-01", "NOSHOW_ZENDESK_SUBDOMAIN": "clinic",
        "NOSHOW_ZENDESK_EMAIL": "agent@clinic.example", "NOSHOW_ZENDESK_API_TOKEN": "zd-api-token-01",
        "NOSHOW_ZENDESK_STATUS_FIELD_ID": "360011", "NOSHOW_FRESHDESK_WEBHOOK_TOKEN": "fd-rule-token-0123456789",
        "NOSHOW_FRESHDESK_DOMAIN": "clinic", "NOSHOW_FRESHDESK_API_KEY": "fd-api-key-01",
        "NOSHOW_MINDBODY_SIGNATURE_KEY": "mb-signature-key-01", "NOSHOW_MINDBODY_API_KEY": "mb-api-key-01",
        "NOSHOW_MINDBODY_SITE_ID": "-99", "NOSHOW_MINDBODY_USERNAME": "owner",
        "NOSHOW_MINDBODY_PASSWORD": "mb-owner-password", "NOSHOW_MINDBODY_TIME_ZONE": "America/New_York",
        "NOSHOW_ACUITY_USER_ID": "11145481", "NOSHOW_ACUITY_API_KEY": "acuity-api-key-01",
        "NOSHOW_SQUARE_ACCESS_TOKEN": "EAAAl-token-01", "NOSHOW_SQUARE_SIGNATURE_KEY": "square-signature-key-01",
        "NOSHOW_FHIR_BASE_URL": "https://fhir.example.org/api/FHIR/R4", "NOSHOW_FHIR_ACCESS_TOKEN": "fhir-token-01",
        "NOSHOW_FHIR_SUBSCRIPTION_TOKEN": "fhir-subscription-01",
        "NOSHOW_MAILCHIMP_WEBHOOK_SECRET": "mc-hook-secret-0123456789", "NOSHOW_QUICKBOOKS_VERIFIER_TOKEN": "qb-ver-01",
        "NOSHOW_QUICKBOOKS_CLIENT_ID": "ABqb-client", "NOSHOW_QUICKBOOKS_REFRESH_TOKEN": "AB11-refresh-01",
        "NOSHOW_QUICKBOOKS_REALM_ID": "9130357766900456",
        "NOSHOW_SERVICETITAN_TENANT_ID": "123456", "NOSHOW_SERVICETITAN_CLIENT_ID": "cid.st-01",
        "NOSHOW_SERVICETITAN_CLIENT_SECRET": "st-secret-01", "NOSHOW_SERVICETITAN_APP_KEY": "ak1.st-app-key-01",
        "NOSHOW_JOBBER_CLIENT_ID": "jobber-client-01", "NOSHOW_JOBBER_CLIENT_SECRET": "jobber-secret-01",
        "NOSHOW_JOBBER_REFRESH_TOKEN": "jobber-refresh-01",
        "NOSHOW_SHEETS_SPREADSHEET_ID": SPREADSHEET,
        "NOSHOW_SHEETS_CHANNEL_TOKEN": "drive-channel-token-01", "NOSHOW_AIRTABLE_TOKEN": "pat-airtable-01",
        "NOSHOW_AIRTABLE_BASE_ID": "app00000000000000", "NOSHOW_AIRTABLE_TABLE": "tblAppointments0",
        "NOSHOW_AIRTABLE_WEBHOOK_ID": "ach00000000000000", "NOSHOW_AIRTABLE_MAC_SECRET": "c3VwZXIgZHVwZXIgc2VjcmV0",
        "NOSHOW_GMAIL_PUSH_AUDIENCE": "https://noshow.example.com/webhooks/gmail",
        "NOSHOW_GMAIL_PUSH_SERVICE_ACCOUNT": "push@project.iam.gserviceaccount.com",
        # the in-app channels: Web Push seals its subscriptions under the encryption key
        "WEBPUSH_VAPID_PRIVATE_KEY": _vapid_private_key(), "WEBPUSH_VAPID_SUBJECT": "mailto:ops@example.com",
        "NOSHOW_ENCRYPTION_KEY": "k1:" + base64.b64encode(bytes(range(32))).decode(),
        "APP_WEBHOOK_URL": "https://app.example.com/hooks", "APP_WEBHOOK_SECRET": "whsec_" + "A" * 32,
        # the address providers call, and a Temporal server rather than the embedded one
        "NOSHOW_PUBLIC_BASE_URL": "https://noshow.example.com", "TEMPORAL_ADDRESS": "temporal.internal:7233",
    })
    statuses = _statuses(result)
    assert result.exit_code == 0, result.output
    assert set(statuses.values()) == {"ok"}, statuses
    assert sorted(statuses) == sorted(registered), (set(statuses) ^ set(registered))
    assert {name.split("/")[0] for name in registered} == {"temporal", "webhooks", "outbound", "writeback", "reconcile"}


def test_check_reports_bad_formats_and_missing_pieces(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result = _check(monkeypatch, tmp_path, {
        "NOSHOW_WEBHOOK_SECRET": "not-a-standard-webhooks-secret",
        "NOSHOW_SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "XX123", "TWILIO_AUTH_TOKEN": "twilio-auth-token-01",
        "TWILIO_FROM_NUMBER": "555-1234",
        "NOSHOW_EMAIL_PROVIDER": "sendgrid", "SENDGRID_API_KEY": "not-a-sendgrid-key-0123",
        "SENDGRID_FROM_EMAIL": "bookings@example.com", "SENDGRID_EVENT_VERIFICATION_KEY": "bm90IGEga2V5",
        "NOSHOW_REVIEW_NOTIFIER": "slack", "SLACK_BOT_TOKEN": "xoxp-user-token-0123", "SLACK_REVIEW_CHANNEL": "C1",
        "SLACK_SIGNING_SECRET": "slack-signing-secret",
        "NOSHOW_CALENDLY_TOKEN": "calendly-pat-0123456",
        "NOSHOW_GRAPH_ACCESS_TOKEN": "graph-token-0123456", "NOSHOW_GRAPH_USER": "ops@example.org",
        "NOSHOW_GRAPH_BASE_URL": "graph.local",
    })
    assert result.exit_code == 1
    statuses = _statuses(result)
    for name in ("webhooks/events", "webhooks/sendgrid", "webhooks/slack", "outbound/twilio-send",
                 "outbound/sendgrid-send", "outbound/slack-notify", "reconcile/calendly", "reconcile/outlook"):
        assert statuses[name] == "error", name
    assert statuses["webhooks/twilio"] == "ok" and statuses["webhooks/calcom"] == "off"
    for hint in ("whsec_", "TWILIO_ACCOUNT_SID must start with AC", "E.164", "SG.", "xoxb-",
                 "NOSHOW_SLACK_REVIEWERS", "NOSHOW_CALENDLY_USER_URI", "NOSHOW_GRAPH_BASE_URL must be an absolute"):
        assert hint in result.output, hint


def test_check_reports_unreadable_settings_without_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    result = _check(monkeypatch, tmp_path, {"NOSHOW_SMS_PROVIDER": "pigeon", "NOSHOW_RECONCILE_EVERY_MINUTES": "0"})
    assert result.exit_code == 1
    statuses = _statuses(result)
    assert statuses["settings/routing"] == "error" and statuses["settings/reconcile"] == "error"
    assert "NOSHOW_SMS_PROVIDER" in result.output and "NOSHOW_RECONCILE_EVERY_MINUTES" in result.output


def test_a_gohighlevel_token_for_write_back_alone_is_not_polled_and_says_how_to_poll() -> None:
    from workers.providers.sources import reconcile_checks

    rs = settings_from({"gohighlevel_access_token": "t", "gohighlevel_location_id": "loc1"})
    [check] = [c for c in reconcile_checks(rs) if c.name == "gohighlevel"]
    assert check.status == "off" and "NOSHOW_GOHIGHLEVEL_CALENDAR_ID" in check.detail
    assert "gohighlevel" not in reconcile_sources(rs)
