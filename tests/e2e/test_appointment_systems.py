"""Acceptance: each appointment system's own deliveries, through the API into a real Temporal worker, become the
right case kinds with the right words. A no-show, a late cancel (inside the 24 h window), an early cancellation
and a reschedule are each driven the way the system really reaches the engine, against its fake. And for a
system holding a calendar, a rebooking whose slot was taken between offer and booking is refused and re-offered,
with nothing double-booked on the fake."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import pytest
from temporalio.client import Client

from connectors.inbound import opt_dt
from domain.case import CaseState
from tests.e2e.provider_helpers import ProviderStack, future_hours, provider_stack, writeback_policy
from tests.fakes.acuity_fake import FakeAcuity, acuity_time
from tests.helpers import eventually
from workers.dev.demo import daytime_contact

pytestmark = [pytest.mark.timeout(120)]

ACUITY_USER, ACUITY_KEY, ACUITY_TYPE = "11145481", "acuity-e2e-api-key", "1"
T = TypeVar("T")


async def polled(fn: Callable[[], T], check: Callable[[T], bool], timeout: float = 30) -> T:
    return await eventually(lambda: asyncio.sleep(0, fn()), check, timeout=timeout)


def templates(stack: ProviderStack, case_id: str) -> list[str]:
    return [str(m["template_id"]).split("@")[0] for m in stack.deps.outbox.messages(case_id)]


# ---------------------------------------------------------------------------- Acuity: signed form pings


def acuity_env(fake: FakeAcuity) -> dict[str, str]:
    return {"NOSHOW_ACUITY_USER_ID": ACUITY_USER, "NOSHOW_ACUITY_API_KEY": ACUITY_KEY,
            "NOSHOW_ACUITY_BASE_URL": fake.base_url, "NOSHOW_ACUITY_APPOINTMENT_TYPE_ID": ACUITY_TYPE,
            "NOSHOW_CALENDAR_PROVIDER": "acuity"}


async def acuity_ping(stack: ProviderStack, action: str, row: dict[str, Any]) -> str:
    """The ping Acuity posts (https://developers.acuityscheduling.com/docs/webhooks), signed X-Acuity-Signature."""
    body = urlencode({"action": action, "id": str(row["id"]), "calendarID": str(row["calendarID"]),
                      "appointmentTypeID": str(row["appointmentTypeID"])}).encode()
    signature = base64.b64encode(hmac.new(ACUITY_KEY.encode(), body, hashlib.sha256).digest()).decode()
    r = await stack.http.post("/webhooks/acuity", content=body, headers={
        "content-type": "application/x-www-form-urlencoded", "x-acuity-signature": signature})
    assert r.status_code == 200, r.text
    events = r.json()["events"]
    assert events and all(e["status"] == "accepted" for e in events), events
    return str(events[0]["case_id"])


async def acuity_case(stack: ProviderStack, fake: FakeAcuity, scenario: str, zone: str) -> tuple[str, datetime]:
    """The case one scenario makes, and the end of the appointment as it stands last (moved, for a reschedule)."""
    now = datetime.now(UTC).replace(microsecond=0)
    start = {"no_show": now - timedelta(minutes=10), "late_cancel": now + timedelta(hours=3),
             "cancellation": now + timedelta(days=3), "reschedule": now + timedelta(days=2)}[scenario]
    row = fake.add_appointment(ACUITY_TYPE, start, timezone=zone)
    case_id = await acuity_ping(stack, "scheduled", row)
    await stack.reach(case_id, "watching", "checking", "recovering", "offering", "awaiting_review")
    if scenario == "no_show":
        row.update(canceled=True, noShow=True)  # an admin cancel with the no-show flag, as Acuity records it
        action = "changed"
    elif scenario in ("late_cancel", "cancellation"):
        row.update(canceled=True, noShow=False)
        action = "canceled"
    else:
        start += timedelta(days=1)
        row["datetime"] = acuity_time(start)
        action = "rescheduled"
    assert await acuity_ping(stack, action, row) == case_id
    return case_id, start + timedelta(minutes=fake.minutes)


# ---------------------------------------------------------------------------- expectations, shared by every system

# scenario -> (case kind, first message template); None: the case goes on watching and sends nothing
EXPECTED: dict[str, tuple[str, str] | None] = {
    "no_show": ("no_show", "missed_first"),
    "late_cancel": ("late_cancel", "missed_first.late_cancel"),
    "cancellation": ("customer_cancel", "missed_first.customer_cancel"),
    "reschedule": None,
}
SCENARIOS = list(EXPECTED)


async def assert_kind(stack: ProviderStack, case: tuple[str, datetime], scenario: str) -> CaseState:
    case_id, moved_to = case
    expected = EXPECTED[scenario]
    if expected is None:
        # the appointment moved in the system itself: nothing to recover, the case follows the new time
        await asyncio.sleep(1.0)
        state = await stack.state(case_id)
        assert state.stage.value == "watching", state.timeline
        assert "event appointment.rescheduled" in [t.what for t in state.timeline]
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


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_acuity_deliveries_become_the_right_case_kinds(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario: str) -> None:
    _, zone = daytime_contact()
    with FakeAcuity(ACUITY_USER, ACUITY_KEY) as acuity:
        acuity.open_times[ACUITY_TYPE] = future_hours(8)
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, acuity_env(acuity),
                                  writeback_policy(zone)) as stack:
            await assert_kind(stack, await acuity_case(stack, acuity, scenario, zone), scenario)


async def test_acuity_refuses_a_taken_slot_and_offers_again(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    with FakeAcuity(ACUITY_USER, ACUITY_KEY) as acuity:
        acuity.open_times[ACUITY_TYPE] = future_hours(12)
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, acuity_env(acuity),
                                  writeback_policy(zone)) as stack:
            case_id, _ = await acuity_case(stack, acuity, "no_show", zone)
            await stack.reach(case_id, "recovering", "awaiting_review")
            if (await stack.state(case_id)).stage.value == "awaiting_review":
                await stack.approve(case_id)
            await polled(lambda: templates(stack, case_id), lambda t: len(t) >= 1)
            await stack.reply(case_id, "yes")
            offered = await stack.reach(case_id, "offering")
            taken = offered.offered[0].start
            # someone else books the first offered time in Acuity between the offer and the pick
            acuity.open_times[ACUITY_TYPE].remove(taken)
            acuity.add_appointment(ACUITY_TYPE, taken, email="someone.else@example.com")
            await stack.reply(case_id, "1")
            again = await polled(lambda: templates(stack, case_id), lambda t: "slot_taken" in t)
            assert again[-1] == "slot_taken"
            reoffer = await stack.reach(case_id, "offering")
            assert reoffer.offered and taken not in {s.start for s in reoffer.offered}
        at_taken = [a for a in acuity.appointments.values()
                    if opt_dt(a["datetime"]) == taken and not a["canceled"]]
        assert [a["email"] for a in at_taken] == ["someone.else@example.com"]  # not double-booked
