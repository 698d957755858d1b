"""Shared parts of the appointment-system acceptance tests: the scenarios' times, the kinds and first words each
scenario must give, a stack per system with its fake, waiting on reconcile runs and cases, and the environments
of the polled systems (ServiceTitan, Jobber) that their demo tests use as well."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from temporalio.client import Client, ScheduleActionExecutionStartWorkflow

from domain.case import CaseState
from tests.e2e.provider_helpers import ProviderStack, future_hours, provider_stack, writeback_policy
from tests.helpers import eventually
from workers.temporal.schedules import schedule_id

T = TypeVar("T")

# scenario -> (case kind, first message template); None: the case goes on watching and sends nothing
EXPECTED: dict[str, tuple[str, str] | None] = {
    "no_show": ("no_show", "missed_first"),
    "late_cancel": ("late_cancel", "missed_first.late_cancel"),
    "cancellation": ("customer_cancel", "missed_first.customer_cancel"),
    "reschedule": None,
}
SCENARIOS = list(EXPECTED)
WATCHED = ("watching", "checking", "recovering", "offering", "awaiting_review")


async def polled(fn: Callable[[], T], check: Callable[[T], bool], timeout: float = 30) -> T:
    return await eventually(lambda: asyncio.sleep(0, fn()), check, timeout=timeout)


def templates(stack: ProviderStack, case_id: str) -> list[str]:
    return [str(m["template_id"]).split("@")[0] for m in stack.deps.outbox.messages(case_id)]


def scenario_start(scenario: str) -> datetime:
    """A no-show's appointment has begun; a late cancel is inside the 24 h window, an early one and a
    reschedule well outside it; the business's cancellation is inside the window too (and still no late cancel)."""
    now = datetime.now(UTC).replace(microsecond=0)
    return {"no_show": now - timedelta(minutes=10), "late_cancel": now + timedelta(hours=3),
            "business_cancel": now + timedelta(hours=3),
            "cancellation": now + timedelta(days=3), "reschedule": now + timedelta(days=2)}[scenario]


async def case_started(stack: ProviderStack, case_id: str, timeout: float = 30) -> CaseState:
    """The case once it exists (an intake path that starts it in the background) and watches its appointment."""
    async def state() -> CaseState | None:
        try:
            return await stack.state(case_id)
        except Exception:  # not started yet: the query has no workflow to ask
            return None
    found = await eventually(state, lambda s: s is not None and s.stage.value in WATCHED, timeout=timeout)
    assert found is not None
    return found


async def reconcile_idle(client: Client, source: str, timeout: float = 30) -> None:
    """No run of the source's reconcile Schedule in flight: a trigger from now on starts a run that reads what was
    written before it (a trigger that overlaps a run is skipped)."""
    handle = client.get_schedule_handle(schedule_id(source))
    for action in (await handle.describe()).info.running_actions:
        if isinstance(action, ScheduleActionExecutionStartWorkflow):
            run = client.get_workflow_handle(action.workflow_id, run_id=action.first_execution_run_id)
            await asyncio.wait_for(run.result(), timeout)


@dataclass(frozen=True)
class System:
    name: str
    fake: Callable[[], Any]
    env: Callable[[Any], dict[str, str]]
    open_times: Callable[[Any, list[datetime]], None]
    case: Callable[[ProviderStack, Any, str, str], Awaitable[tuple[str, datetime]]]
    # calendar systems only: someone else takes a time on the fake; who holds a time there
    take: Callable[[Any, datetime], None] | None = None
    holders: Callable[[Any, datetime], list[str]] | None = None


@asynccontextmanager
async def system_stack(system: System, client: Client, task_queue: str, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch, zone: str, free: int = 8
                       ) -> AsyncIterator[tuple[ProviderStack, Any]]:
    with system.fake() as fake:
        system.open_times(fake, future_hours(free))
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, system.env(fake),
                                  writeback_policy(zone)) as stack:
            yield stack, fake


async def assert_kind(stack: ProviderStack, case: tuple[str, datetime], scenario: str) -> CaseState:
    case_id, moved_to = case
    expected = EXPECTED[scenario]
    if expected is None:
        # the appointment moved in the system itself: nothing to recover, the case follows the new time
        state = await eventually(lambda: stack.state(case_id),
                                 lambda s: s.next_action_at is not None and s.next_action_at >= moved_to)
        await asyncio.sleep(1.0)
        state = await stack.state(case_id)
        assert state.stage.value == "watching", state.timeline
        # the decision waits for the moved appointment's end, not the old one's
        assert state.next_action_at is not None and state.next_action_at >= moved_to, (state.next_action_at, moved_to)
        assert templates(stack, case_id) == []
        return state
    kind, template = expected
    state = await stack.reach(case_id, "recovering", "offering", "awaiting_review", "unrecovered", "cancelled")
    assert state.kind.value == kind, (scenario, state.kind, state.timeline)
    sent = await polled(lambda: templates(stack, case_id), lambda t: len(t) >= 1)
    assert sent[0] == template, (scenario, sent)
    return state


# ---------------------------------------------------------------------------- the polled field-service systems


def servicetitan_env(url: str, reasons: str = '["7"]', failed_access: str = "[]") -> dict[str, str]:
    return {"NOSHOW_SERVICETITAN_TENANT_ID": "123456", "NOSHOW_SERVICETITAN_CLIENT_ID": "cid.st",
            "NOSHOW_SERVICETITAN_CLIENT_SECRET": "st-secret", "NOSHOW_SERVICETITAN_APP_KEY": "ak1.st-app-key",
            "NOSHOW_SERVICETITAN_AUTH_URL": url + "/connect/token", "NOSHOW_SERVICETITAN_BASE_URL": url,
            "NOSHOW_SERVICETITAN_NO_SHOW_REASON_IDS": reasons,
            "NOSHOW_SERVICETITAN_FAILED_ACCESS_REASON_IDS": failed_access,
            "NOSHOW_SERVICETITAN_BUSINESS_UNIT_ID": "11", "NOSHOW_SERVICETITAN_JOB_TYPE_ID": "21",
            "NOSHOW_SERVICETITAN_CAMPAIGN_ID": "41"}


def jobber_env(url: str) -> dict[str, str]:
    return {"NOSHOW_JOBBER_CLIENT_ID": "jobber-client", "NOSHOW_JOBBER_CLIENT_SECRET": "jobber-secret",
            "NOSHOW_JOBBER_REFRESH_TOKEN": "jobber-refresh", "NOSHOW_JOBBER_TOKEN_URL": url + "/api/oauth/token",
            "NOSHOW_JOBBER_API_URL": url + "/api/graphql"}
