"""The owners' daily digest on a real Temporal dev server: the worker process creates its Schedule, and a run of
it sends one digest per owner with the figures of the day before, once."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from temporalio.client import Client, Schedule

from domain.case import DigestRequest
from domain.models import LedgerEvent
from tests.helpers import eventually, fast_policy, local_settings
from workers.dependencies import build_dependencies
from workers.digest_settings import DigestSettings
from workers.temporal.schedules import DIGEST_SCHEDULE_ID, trigger_digest
from workers.worker import run_worker


def _event(n: int, type_: str, at: datetime, owner: str | None, outcome: str | None = None) -> LedgerEvent:
    return LedgerEvent(event_id=f"digest-test-{n}:{type_}", case_id=f"digest-case-{n}", type=type_, at=at,
                       source="calcom", appointment_type="consultation", owner_id=owner, outcome=outcome,
                       program="default")


async def _schedule_for(client: Client, task_queue: str) -> Schedule | None:
    """The digest Schedule once this worker has written it (the id is one per namespace: a worker of another
    test may have created it first, with its own settings)."""
    try:
        schedule = (await client.get_schedule_handle(DIGEST_SCHEDULE_ID).describe()).schedule
    except Exception:
        return None
    return schedule if getattr(schedule.action, "task_queue", None) == task_queue else None


@pytest.mark.slow
async def test_worker_keeps_the_digest_schedule_and_a_run_sends_yesterdays_figures_once(
        client: Client, task_queue: str, tmp_path: Path) -> None:
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(yaml.safe_dump(fast_policy().model_dump(mode="json"), sort_keys=False))
    settings = local_settings(tmp_path / "data", task_queue=task_queue, policy_file=policy_path,
                              temporal_address=client.service_client.config.target_host,
                              digest=DigestSettings(hour=6, minute=30, timezone="UTC"))
    deps = build_dependencies(settings)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(hours=12)
    deps.ledger.append_many([
        _event(1, "case_opened", yesterday, "owner-a"),
        _event(1, "verdict", yesterday + timedelta(minutes=1), "owner-a", outcome="no_show"),
        _event(2, "case_opened", yesterday, "owner-a"),
        _event(2, "watch_confirmed", yesterday, "owner-a"),
        _event(3, "case_opened", yesterday, "owner-b"),
        _event(3, "rebooked", today - timedelta(seconds=1), "owner-b"),
        _event(4, "case_opened", today, "owner-b"),  # today: tomorrow's digest
        _event(5, "case_opened", today - timedelta(days=1, seconds=1), "owner-c"),  # the day before yesterday
    ])
    worker = asyncio.create_task(run_worker(settings))
    try:
        schedule = await eventually(lambda: _schedule_for(client, task_queue), bool, timeout=30)
        assert schedule is not None
        calendar = schedule.spec.calendars[0]
        assert (calendar.hour[0].start, calendar.minute[0].start) == (6, 30)
        assert schedule.spec.time_zone_name == "UTC"
        assert schedule.action.task_queue == task_queue  # type: ignore[attr-defined]

        await trigger_digest(client)
        digests = await eventually(lambda: asyncio.sleep(0, deps.alerts.alerts(kind="digest")),
                                   lambda rows: len(rows) >= 2, timeout=30)
        day = (today - timedelta(days=1)).date().isoformat()
        by_owner = {row["owner_id"]: row for row in digests}
        assert set(by_owner) == {"owner-a", "owner-b"}
        assert by_owner["owner-a"]["summary"] == "confirmed 1, missed 1, opened 2"
        assert by_owner["owner-b"]["summary"] == "opened 1, rebooked 1"
        assert {row["alert_id"] for row in digests} == {f"digest-owner-a-{day}", f"digest-owner-b-{day}"}

        # a second run the same day (a retry, a manual trigger) sends nothing more
        handle = client.get_schedule_handle(DIGEST_SCHEDULE_ID)
        await eventually(lambda: handle.describe(), lambda d: not d.info.running_actions, timeout=30)
        await trigger_digest(client)
        await eventually(lambda: handle.describe(),
                         lambda d: d.info.num_actions >= 2 and not d.info.running_actions, timeout=30)
        assert len(deps.alerts.alerts(kind="digest")) == 2
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await worker
        with contextlib.suppress(Exception):
            await client.get_schedule_handle(DIGEST_SCHEDULE_ID).delete()


def test_a_digest_request_names_a_real_zone() -> None:
    with pytest.raises(ValueError):
        DigestRequest(timezone="Mars/Olympus")
    with pytest.raises(ValueError):
        DigestSettings(timezone="Mars/Olympus")
