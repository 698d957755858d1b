"""One case end to end on each backend of the operational store: a real Temporal server, the worker's
activities writing outbox, holds, bookings, CRM and consent through SQLite or Postgres."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest_asyncio
import yaml
from pydantic import SecretStr
from temporalio.client import Client

from domain.models import EventType, Stage
from tests.engine.conftest import Stack
from tests.engine.test_case_workflow import reach, reply, result
from tests.helpers import appointment, default_program, event, eventually, fast_policy, local_settings
from workers.dependencies import build_dependencies
from workers.intake.cases import CaseService
from workers.worker import build_worker


@pytest_asyncio.fixture
async def backend_stack(client: Client, task_queue: str, tmp_path: Path, db_url: str
                        ) -> AsyncIterator[Stack]:
    policy = fast_policy()
    default_program(policy).rebooking.follow_new_appointment = False
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False))
    settings = local_settings(tmp_path / "data", task_queue=task_queue, policy_file=policy_path)
    settings.storage.database_url = SecretStr(db_url)
    deps = build_dependencies(settings)
    assert deps.db.url.startswith("postgresql") == db_url.startswith("postgresql")
    worker = build_worker(client, deps, task_queue=task_queue, max_cached_workflows=0)
    task = asyncio.create_task(worker.run())
    try:
        yield Stack(client, deps, CaseService(client, deps), worker, policy_path)
    finally:
        await worker.shutdown()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_no_show_is_recovered_and_booked_on_either_store(backend_stack: Stack) -> None:
    stack = backend_stack
    appt = appointment()
    outcome = await stack.cases.submit_event(event(appt, EventType.no_show))
    case_id = outcome.case_id
    assert outcome.status == "accepted" and case_id
    again = await stack.cases.submit_event(event(appt, EventType.no_show))  # a redelivered webhook
    assert again.case_id == case_id

    await eventually(lambda: asyncio.sleep(0, stack.deps.outbox.messages(case_id)), lambda m: len(m) >= 1)
    await reach(stack, case_id, Stage.recovering)
    await reply(stack, case_id, "yes please, can we find another time?")
    offered = await reach(stack, case_id, Stage.offering)
    assert len(offered.offered) == 3
    await reply(stack, case_id, "2")
    final = await result(stack, case_id)

    assert final.stage == Stage.confirmed
    booked = stack.deps.calendar.appointment(final.new_appointment_id or "")
    assert booked is not None and booked["status"] == "booked"
    assert datetime.fromisoformat(str(booked["start_at"])) == offered.offered[1].start
    templates = [str(m["template_id"]) for m in stack.deps.outbox.messages(case_id)]
    assert templates[0].startswith("missed_first") and templates[-1].startswith("confirm_booking")
    assert len(templates) == len(set(m["message_id"] for m in stack.deps.outbox.messages(case_id)))
    fields = stack.deps.crm.read_fields(appt.contact.contact_id, appt.appointment_id)
    assert fields["recovery_status"] == "rebooked"
    with stack.deps.db.connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM holds WHERE case_id = ?", (case_id,)).fetchone()[0] == 0
