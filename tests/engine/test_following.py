"""Following the new appointment to its end, under the time-skipping test server: kept closes the case as
`confirmed`, not kept as `rebooked_missed` (still a rebooking in the reports, but not a kept one)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
import yaml
from sqlalchemy import select
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from domain.case import CaseState
from domain.models import TERMINAL_STAGES, Channel, EventType, Reply, Stage
from reporting.schema import case_facts
from tests.engine.history_recorder import case_folder, saving
from tests.helpers import appointment, default_program, event, eventually, fast_policy, local_settings
from workers.dependencies import Dependencies, build_dependencies
from workers.intake.cases import CaseService
from workers.worker import build_worker
from workflows.case import REBOOKED_MISSED_PATCH, RecoveryCaseWorkflow
from workflows.search_attributes import OUTCOME


@dataclass
class Following:
    client: Client
    env: WorkflowEnvironment
    deps: Dependencies
    cases: CaseService

    async def state(self, handle: WorkflowHandle[RecoveryCaseWorkflow, CaseState]) -> CaseState:
        return await handle.query(RecoveryCaseWorkflow.state_query)

    async def booked_and_following(self) -> WorkflowHandle[RecoveryCaseWorkflow, CaseState]:
        """A reschedule request, the first slot picked by reply: the case follows the new appointment."""
        started = await self.cases.submit_event(event(appointment(), EventType.reschedule_requested))
        assert started.case_id
        handle = self.client.get_workflow_handle_for(RecoveryCaseWorkflow.run, started.case_id)  # type: ignore[arg-type]
        await eventually(lambda: self.state(handle), lambda s: s.stage == Stage.offering and bool(s.offered))
        await self.cases.submit_reply(Reply(reply_id=f"r-{uuid.uuid4().hex[:10]}", channel=Channel.sms, text="1",
                                            received_at=datetime.now(UTC)), sender=None, case_id=started.case_id)
        following = await eventually(lambda: self.state(handle), lambda s: s.stage == Stage.following)
        assert following.new_appointment_id and following.new_appointment_start
        return handle

    async def until_closed(self, handle: WorkflowHandle[RecoveryCaseWorkflow, CaseState]) -> CaseState:
        for _ in range(8):  # skip server time past the new appointment's end
            state = await self.state(handle)
            if state.stage in TERMINAL_STAGES:
                return await handle.result()
            await self.env.sleep(timedelta(hours=12))
        raise AssertionError(f"still {state.stage} after four days")

    def keep(self, name: str, history_json: str) -> None:
        if saving():
            (case_folder() / f"{name}-0.json").write_text(history_json)


@pytest_asyncio.fixture
async def following(skipping_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Following]:
    policy = fast_policy()
    assert default_program(policy).rebooking.follow_new_appointment
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(yaml.safe_dump(policy.model_dump(mode="json")))
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    deps = build_dependencies(local_settings(tmp_path / "data", task_queue=task_queue, policy_file=policy_path))
    client = skipping_env.client
    async with build_worker(client, deps, task_queue=task_queue, max_cached_workflows=0):
        yield Following(client, skipping_env, deps, CaseService(client, deps))


def ledger_types(f: Following, case_id: str) -> list[str]:
    return [e.type for e in f.deps.ledger.events(case_id)]


def facts(f: Following, case_id: str) -> dict[str, object]:
    """The case's row of the reporting table every metric and the dashboard sum over."""
    with f.deps.ledger.engine.connect() as conn:
        return dict(conn.execute(select(case_facts).where(case_facts.c.case_id == case_id)).mappings().one())


def patches(history: WorkflowHistory) -> set[str]:
    found = set()
    for e in history.events:
        if e.HasField("marker_recorded_event_attributes"):
            marker = e.marker_recorded_event_attributes
            found |= {json.loads(p.data)["id"] for p in marker.details["patch-data"].payloads}
    return found


def last_outcome_attribute(history: WorkflowHistory) -> str | None:
    """NoShowOutcome as the case's last upsert wrote it (describe() cannot decode this server's attributes)."""
    found = None
    for e in history.events:
        if e.HasField("upsert_workflow_search_attributes_event_attributes"):
            fields = e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            if OUTCOME.name in fields:
                found = json.loads(fields[OUTCOME.name].data)
    return found


async def test_a_missed_new_appointment_closes_as_rebooked_missed(following: Following,
                                                                   request: pytest.FixtureRequest) -> None:
    handle = await following.booked_and_following()
    final = await following.until_closed(handle)

    assert final.stage == Stage.rebooked_missed and final.close_reason
    assert final.new_appointment_id  # the booking stands: it is the customer who did not come
    types = ledger_types(following, handle.id)
    assert "rebooked" in types and "not_kept" in types and "kept" not in types
    closed = [e for e in following.deps.ledger.events(handle.id) if e.type == "case_closed"]
    assert [e.outcome for e in closed] == ["rebooked_missed"]
    row = facts(following, handle.id)  # a recovery, followed, not kept
    assert (row["outcome"], row["rebooked"], row["followed"], row["kept"], row["not_kept"]) == (
        "rebooked_missed", 1, 1, 0, 1)
    assert row["recovered_value"] == row["value"] and row["lost_value"] == 0
    history = await handle.fetch_history()
    assert REBOOKED_MISSED_PATCH in patches(history)
    assert last_outcome_attribute(history) == Stage.rebooked_missed.value
    following.keep(request.node.name, history.to_json())


async def test_a_kept_new_appointment_closes_as_confirmed(following: Following,
                                                          request: pytest.FixtureRequest) -> None:
    handle = await following.booked_and_following()
    state = await following.state(handle)
    assert state.new_appointment_id and state.new_appointment_start
    following.deps.calendar.add_signal(state.new_appointment_id, "check_in", state.new_appointment_start,
                                       source="front_desk")
    final = await following.until_closed(handle)

    assert final.stage == Stage.confirmed and final.close_reason == "rebooked"
    types = ledger_types(following, handle.id)
    assert "kept" in types and "not_kept" not in types
    row = facts(following, handle.id)
    assert (row["outcome"], row["rebooked"], row["followed"], row["kept"], row["not_kept"]) == (
        "confirmed", 1, 1, 1, 0)
    history = await handle.fetch_history()
    assert REBOOKED_MISSED_PATCH not in patches(history)  # the marker only where the new stage applies
    assert last_outcome_attribute(history) == Stage.confirmed.value
    following.keep(request.node.name, history.to_json())
