"""A booking's whole life under the time-skipping test server, on the shipped default program: the confirmation,
two reminders, a no-show, recovery messages, a rebooking and the new appointment's own reminders. Every message
falls inside the contact's send window, and the CRM tells each stage (fields, notes, a timeline note per
message) without touching the fields people own."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import yaml
from temporalio.testing import WorkflowEnvironment

from domain.case import CaseState
from domain.models import Channel, EventType, Reply, Stage
from policies import send_rules
from policies.loader import load_policy
from tests.engine.history_recorder import case_folder, saving
from tests.helpers import appointment, default_program, event, eventually, local_settings
from workers.dependencies import Dependencies, build_dependencies
from workers.intake.cases import CaseService
from workers.worker import build_worker
from workflows.case import RecoveryCaseWorkflow

T = TypeVar("T")
ZONE = "America/New_York"


def templates(deps: Dependencies, case_id: str) -> list[str]:
    return [str(m["template_id"]).split("@")[0] for m in deps.outbox.messages(case_id)]


async def skip_to(env: WorkflowEnvironment, at: datetime) -> None:
    now = await env.get_current_time()
    if at > now:
        await env.sleep(at - now)


async def soon(fn: Callable[[], Awaitable[T]], check: Callable[[T], bool]) -> T:
    return await eventually(fn, check, timeout=30)


async def test_booking_to_rebooked_reminders_inside_every_window_with_the_crm_told_each_stage(
        skipping_env: WorkflowEnvironment, tmp_path: Path) -> None:
    env = skipping_env
    policy = load_policy()
    program = default_program(policy)  # confirmation, reminders a day and an hour before, follows the rebooking
    program.crm.message_notes = True
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False))
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    deps = build_dependencies(local_settings(tmp_path / "data", task_queue=task_queue, policy_file=policy_path))
    client = env.client
    cases = CaseService(client, deps)

    async with build_worker(client, deps, task_queue=task_queue, max_cached_workflows=0):
        now = await env.get_current_time()
        monday = (now + timedelta(days=7 - now.weekday())).replace(hour=15, minute=0, second=0, microsecond=0)
        await skip_to(env, monday)  # Monday 10:00 in New York
        start = monday + timedelta(days=2)  # Wednesday 10:00
        appt = appointment(start=start, value=150, contact_id=f"c-{uuid.uuid4().hex[:8]}", timezone=ZONE,
                           phone="+12125550147", email="pat@example.com")
        deps.crm.seed_field(appt.contact.contact_id, "-", "owner_notes", "Prefers mornings")
        deps.crm.seed_field(appt.contact.contact_id, "-", "billing_status", "current")
        case_id = (await cases.submit_event(event(appt, EventType.booked, at=await env.get_current_time()))).case_id
        assert case_id
        handle = client.get_workflow_handle(case_id)

        async def state() -> CaseState:
            return await handle.query(RecoveryCaseWorkflow.state_query)

        async def say(text: str) -> None:
            await cases.submit_reply(Reply(reply_id=f"r-{uuid.uuid4().hex[:8]}", channel=Channel.sms, text=text,
                                           received_at=await env.get_current_time()), sender=None, case_id=case_id)

        async def sent() -> list[str]:
            return templates(deps, case_id)

        await soon(sent, lambda t: t == ["appointment_confirm"])
        await skip_to(env, start - timedelta(hours=23))
        await soon(sent, lambda t: t.count("appointment_reminder") == 1)
        await skip_to(env, start - timedelta(minutes=30))
        await soon(sent, lambda t: t.count("appointment_reminder") == 2)

        await skip_to(env, start + timedelta(minutes=10))
        await cases.submit_event(event(appt, EventType.no_show, at=await env.get_current_time()))
        await skip_to(env, start + timedelta(minutes=30))
        await soon(sent, lambda t: "missed_first" in t)
        await soon(state, lambda s: s.stage == Stage.recovering)
        await say("yes please, can we find another time next week?")
        offered = (await soon(state, lambda s: s.stage == Stage.offering)).offered
        await say(str(len(offered)))  # the last time offered: the furthest away
        booked = await soon(state, lambda s: s.stage == Stage.following)
        assert booked.new_appointment_start == offered[-1].start
        new_start = offered[-1].start
        new_id = booked.new_appointment_id or ""
        deps.calendar.add_signal(new_id, "check_in", new_start + timedelta(minutes=2), source="front_desk")

        reminders_due = [new_start - timedelta(minutes=r.before_minutes) for r in program.watch.reminders]
        booked_at = await env.get_current_time()
        expected_new = sum(1 for at in reminders_due if at >= booked_at)
        assert expected_new >= 1
        await skip_to(env, new_start - timedelta(minutes=30))
        await soon(sent, lambda t: t.count("appointment_reminder") == 2 + expected_new)
        await skip_to(env, new_start + timedelta(hours=2))
        final = await soon(state, lambda s: s.stage == Stage.confirmed)
        if saving():  # the test server cannot list workflows: this case's history, by its id
            history = await handle.fetch_history()
            (case_folder() / "test_booking_to_rebooked_reminders-0.json").write_text(history.to_json())

    messages = deps.outbox.messages(case_id)
    names = [str(m["template_id"]).split("@")[0] for m in messages]
    assert names[:4] == ["appointment_confirm", "appointment_reminder", "appointment_reminder", "missed_first"]
    assert "offer_slots" in names and "confirm_booking" in names
    after_booking = names[names.index("confirm_booking") + 1:]
    assert after_booking == ["appointment_reminder"] * expected_new
    for message in messages:
        at = datetime.fromisoformat(str(message["created_at"]))
        check = send_rules.check_send(send_rules.SendCheckInput(
            now=at, channel=Channel(str(message["channel"])), rules=program.send, contact_timezone=ZONE,
            phone=appt.contact.phone))
        assert check.allowed, (message["template_id"], at.astimezone(UTC), check.reasons)
    # the new appointment's reminders speak of the new time
    def spoken(at: datetime) -> str:
        local = at.astimezone(ZoneInfo(ZONE))
        return f"{local:%a %b} {local.day} at {local.hour % 12 or 12}:{local:%M %p}"

    reminder_bodies = [str(m["body"]) for m in messages if str(m["template_id"]).startswith("appointment_reminder")]
    assert all(spoken(start) in body for body in reminder_bodies[:2])
    assert reminder_bodies[2:] and all(spoken(new_start) in body for body in reminder_bodies[2:])  # the new time

    # the CRM: the miss, the rebooking and the new time are on the record
    fields = deps.crm.read_fields(appt.contact.contact_id, appt.appointment_id)
    assert fields["outcome"] == "no_show" and fields["recovery_status"] == "rebooked"
    assert fields["missed_date"] == start.date().isoformat()
    assert fields["next_appointment"] == new_start.isoformat(timespec="minutes")
    with deps.db.connect() as conn:
        notes = [str(r["note"]) for r in conn.execute(
            "SELECT note FROM crm_notes WHERE contact_id = ? ORDER BY at", (appt.contact.contact_id,)).fetchall()]
    assert any("Rebooked" in n for n in notes), notes
    # a timeline note per message sent, by its template, channel and status, never its text
    timeline = [n for n in notes if n.startswith("Message ")]
    assert timeline == [f"Message {name} by {m['channel']}: sent (case {case_id})"
                        for name, m in zip(names, messages, strict=True)], timeline
    assert not any(str(m["body"])[:20] in n for m in messages for n in notes)
    # people-owned fields are never written
    assert deps.crm.read_fields(appt.contact.contact_id, "-") == {"owner_notes": "Prefers mornings",
                                                                  "billing_status": "current"}
    assert final.stage == Stage.confirmed and final.reminders_sent == 2 + expected_new
