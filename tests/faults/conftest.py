"""Fixtures for the provider-fault tests: fakes, a fault stack per test, and the module's tally."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client

from tests.engine.conftest import settings_for
from tests.faults.harness import FaultSendGrid, FaultStack, FaultTwilio, Tally, zero_delay_policy
from workers.dependencies import build_dependencies
from workers.intake.cases import CaseService

TALLY = Tally()


@pytest.fixture(scope="session")
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    yield TALLY
    capture = request.config.pluginmanager.getplugin("capturemanager")
    lines = [
        "provider-fault report",
        f"  scenarios: {len(TALLY.scenarios)} ({', '.join(TALLY.scenarios)})",
        f"  cases: {TALLY.cases}, logical messages checked: {TALLY.messages}",
        f"  lost cases: {TALLY.lost_cases}",
        f"  duplicate customer messages: {TALLY.duplicates}",
        f"  sends after opt-out: {TALLY.sends_after_opt_out}",
        f"  opt-out confirmations: {TALLY.stop_confirmations} for {TALLY.stops} STOP(s) (at most one each)",
    ]
    lines += [f"  known bug (xfail, not in the totals): {name}: {n}" for name, n in TALLY.known_bugs.items()]
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print("\n" + "\n".join(lines))
    else:
        print("\n".join(lines))


@pytest_asyncio.fixture
async def faults(client: Client, task_queue: str, tmp_path: Path) -> AsyncIterator[FaultStack]:
    twilio, sendgrid = FaultTwilio().start(), FaultSendGrid().start()
    settings = settings_for(tmp_path, task_queue, zero_delay_policy())
    deps = build_dependencies(settings)
    stack = FaultStack(client, deps, CaseService(client, deps), twilio, sendgrid, task_queue, tmp_path)  # type: ignore[arg-type]
    stack.start_worker()
    try:
        yield stack
    finally:
        await stack.stop_worker()
        twilio.stop()
        sendgrid.stop()
