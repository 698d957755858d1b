"""The watching stage's metrics over a ledger the real case workflow filled, under the time-skipping test server:
a booking confirmed and reminded that is attended, and one booked too late for its reminder that is missed (a
high-value miss, so its owner is alerted): confirmation rate, attendance with and without a reminder, and the
exceptions count equal to what reached a human."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from temporalio.testing import WorkflowEnvironment

from domain.models import Appointment, Channel, EventType, Reply, Stage
from policies.schema import Reminder, WatchMessage, WatchRules
from reporting.metrics import build_report
from tests.engine.conftest import skipping_env  # noqa: F401
from tests.helpers import appointment, default_program, event, eventually, fast_policy, local_settings
from workers.dependencies import Dependencies, build_dependencies
from workers.intake.cases import CaseService
from workers.worker import build_worker
from workflows.case import RecoveryCaseWorkflow


def templates(deps: Dependencies, case_id: str) -> list[str]:
    return [str(m["template_id"]).split("@")[0] for m in deps.outbox.messages(case_id)]


async def skip_to(env: WorkflowEnvironment, at: datetime) -> None:
    now = await env.get_current_time()
    if at > now:
        await env.sleep(at - now)


async def test_confirmation_reminder_and_exception_metrics_from_real_cases(
        skipping_env: WorkflowEnvironment, tmp_path: Path) -> None:  # noqa: F811
    env = skipping_env
    policy = fast_policy()
    program = default_program(policy)
    program.attendance.grace_minutes = 15
    program.review.high_value_threshold = 500
    program.watch = WatchRules(
        confirmation=WatchMessage(template="appointment_confirm", channels=[Channel.sms]),
        reminders=[Reminder(before_minutes=24 * 60, template="appointment_reminder", channels=[Channel.sms])])
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False))
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    deps = build_dependencies(local_settings(tmp_path / "data", task_queue=task_queue, policy_file=policy_path))
    client = env.client
    cases = CaseService(client, deps)

    booked: list[Appointment] = []

    async def book(start: datetime, value: float) -> tuple[str, Appointment]:
        appt = appointment(start=start, value=value, contact_id=f"c-{uuid.uuid4().hex[:8]}",
                           timezone="America/New_York", phone=f"+1212555{len(booked):04d}")
        booked.append(appt)
        case_id = (await cases.submit_event(event(appt, EventType.booked, at=await env.get_current_time()))).case_id
        assert case_id
        return case_id, appt

    async with build_worker(client, deps, task_queue=task_queue, max_cached_workflows=0):
        # a weekday morning in New York, inside every send window
        now = await env.get_current_time()
        morning = now.replace(hour=15, minute=0, second=0, microsecond=0) + timedelta(days=1)
        while morning.weekday() >= 5:
            morning += timedelta(days=1)
        await skip_to(env, morning)
        start = morning + timedelta(days=2, hours=1)
        kept_id, kept = await book(start, value=100)
        await eventually(lambda: asyncio.sleep(0, templates(deps, kept_id)), lambda t: t == ["appointment_confirm"])
        await cases.submit_reply(Reply(reply_id=f"r-{uuid.uuid4().hex[:8]}", channel=Channel.sms, text="C",
                                       received_at=await env.get_current_time()), sender=None, case_id=kept_id)
        handle = client.get_workflow_handle(kept_id)
        await eventually(lambda: handle.query(RecoveryCaseWorkflow.state_query),
                         lambda s: s.confirmation == "confirmed")

        await skip_to(env, start - timedelta(hours=23))
        await eventually(lambda: asyncio.sleep(0, templates(deps, kept_id)),
                         lambda t: t == ["appointment_confirm", "appointment_reminder"])
        # booked two hours ahead: too late for the 24-hour reminder
        await skip_to(env, start - timedelta(hours=2))
        missed_id, missed = await book(start, value=600)
        await eventually(lambda: asyncio.sleep(0, templates(deps, missed_id)), lambda t: t == ["appointment_confirm"])

        await skip_to(env, start + timedelta(minutes=5))
        await cases.submit_event(event(kept, EventType.attended, at=await env.get_current_time()))
        await cases.submit_event(event(missed, EventType.no_show, at=await env.get_current_time()))
        await eventually(lambda: handle.query(RecoveryCaseWorkflow.state_query), lambda s: s.stage == Stage.attended)
        missed_handle = client.get_workflow_handle(missed_id)
        await eventually(lambda: missed_handle.query(RecoveryCaseWorkflow.state_query),
                         lambda s: s.verdict == "no_show" and s.stage != Stage.checking)
        await eventually(lambda: asyncio.sleep(0, deps.alerts.alerts(kind="high_value_miss")), bool)

    values = build_report(deps.ledger).total.values
    assert (values["confirmations_sent"], values["confirmed"], values["confirmation_rate"]) == (2, 1, 0.5)
    assert (values["reminded"], values["reminded_attended"], values["reminded_attendance_rate"]) == (1, 1, 1.0)
    assert (values["not_reminded"], values["not_reminded_attended"], values["not_reminded_attendance_rate"]) == (
        1, 0, 0.0)
    # what reached a human: the owner alert on the high-value miss (no review was asked for)
    alerts = [a for a in deps.alerts.alerts() if a["case_id"] in (kept_id, missed_id)]
    assert [a["kind"] for a in alerts] == ["high_value_miss"]
    assert values["exceptions"] == len(alerts) + (values["reviews"] or 0)
