"""The multi-day recovery sequence (5 minutes, 4 hours, 2 days) under the time-skipping test server."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from temporalio.api.enums.v1 import EventType as EventType_
from temporalio.testing import WorkflowEnvironment

from domain.models import TERMINAL_STAGES, Channel, EventType, Stage
from policies import send_rules
from policies.loader import load_policy
from policies.schema import Segment
from tests.helpers import appointment, default_program, event, local_settings
from workers.dependencies import build_dependencies
from workers.intake.cases import CaseService
from workers.worker import build_worker
from workflows.case import RecoveryCaseWorkflow


async def test_sequence_steps_follow_policy_delays_and_end_unrecovered(skipping_env: WorkflowEnvironment,
                                                                       tmp_path: Path) -> None:
    policy = load_policy()  # the shipped default: 5 min, 4 h, 2 days
    program = default_program(policy)
    program.review.high_value_threshold = None
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(yaml.safe_dump(policy.model_dump(mode="json")))
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    settings = local_settings(tmp_path / "data", task_queue=task_queue, policy_file=policy_path)
    deps = build_dependencies(settings)
    client = skipping_env.client
    async with build_worker(client, deps, task_queue=task_queue, max_cached_workflows=0):
        appt = appointment(value=100, start=datetime.now(UTC) - timedelta(hours=2))
        outcome = await CaseService(client, deps).submit_event(event(appt, EventType.no_show))
        assert outcome.case_id
        handle = client.get_workflow_handle(outcome.case_id)
        # (describe() cannot decode datetime search attributes from this server, so poll the query)
        for _ in range(12):  # skip server time half a day at a time until the case closes
            final = await handle.query(RecoveryCaseWorkflow.state_query)
            if final.stage in TERMINAL_STAGES:
                break
            await skipping_env.sleep(timedelta(hours=12))
        history = await handle.fetch_history()
        assert history.events[-1].event_type == EventType_.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED

    assert final.stage == Stage.unrecovered
    sent = deps.outbox.messages(outcome.case_id)
    assert [str(m["template_id"]).split("@")[0] for m in sent] == ["missed_first", "missed_followup", "missed_last"]
    times = [datetime.fromisoformat(str(m["created_at"])) for m in sent]
    gaps = [(b - a) for a, b in itertools.pairwise(times)]
    steps = program.sequences[Segment.first_time].steps
    for gap, step in zip(gaps, steps[1:], strict=True):
        # never early; later only when the recipient's window deferred it
        assert gap >= timedelta(minutes=step.delay_minutes) - timedelta(seconds=5)
    for sent_at, message in zip(times, sent, strict=True):
        check = send_rules.check_send(send_rules.SendCheckInput(
            now=sent_at, channel=Channel(str(message["channel"])), rules=program.send,
            contact_timezone=appt.contact.timezone, phone=appt.contact.phone))
        assert check.allowed, (sent_at, check.reasons)
