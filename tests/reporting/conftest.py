from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reporting.ledger import Ledger
from tests.reporting.demo import backfill_events, demo_events


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield led
    led.close()


def fill_demo(ledger: Ledger) -> Ledger:
    events = demo_events()
    ledger.append_many(events[:20])
    for ev in events[15:]:  # overlapping on purpose: repeats must not count twice
        ledger.append(ev)
    return ledger


@pytest.fixture
def demo_ledger(ledger: Ledger) -> Ledger:
    return fill_demo(ledger)


@pytest.fixture
def mixed_ledger(demo_ledger: Ledger) -> Ledger:
    """The demo's cases plus waitlist backfills, some events appended twice (repeats must not count)."""
    backfills = backfill_events()
    demo_ledger.append_many(backfills[:9])
    for ev in backfills[6:]:
        demo_ledger.append(ev)
    return demo_ledger
