"""Waitlist backfill against a real Temporal dev server: first yes wins, the rest hear the slot is gone,
concurrent yeses and competing bookings never double-book, opted-out contacts get nothing, silence expires."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest_asyncio
from temporalio.client import Client
from temporalio.worker import Worker

from activities.backfill import BackfillActivities
from activities.scheduling import SchedulingActivities
from connectors.local.waitlist import LocalWaitlist
from domain.backfill import BackfillBookRequest, BackfillState, FreedSlot
from domain.case import BookRequest
from domain.ids import contact_key_for
from domain.models import Channel, Contact, Reply, Slot
from policies.schema import BackfillRules, PolicyFile
from tests.engine.conftest import settings_for
from tests.helpers import appointment, eventually, fast_policy
from workers.dependencies import Dependencies, build_dependencies
from workers.dev.demo import daytime_contact
from workers.intake.backfill import accept_offer, backfill_reply, start_backfill
from workers.worker import case_activities
from workflows import search_attributes as sa
from workflows.backfill import SlotBackfill


def backfill_policy() -> PolicyFile:
    """The shipped default's templates, waitlist offers included, with fast timings."""
    policy = fast_policy()
    assert {"waitlist_offer", "slot_gone"} <= {t.id for t in policy.templates if t.approved}
    return policy


@dataclass
class BackfillStack:
    client: Client
    deps: Dependencies
    waitlist: LocalWaitlist
    calendar_id: str

    def freed(self, hours_ahead: float = 3, minutes: int = 30, offset_minutes: int = 0) -> FreedSlot:
        start = (datetime.now(UTC) + timedelta(hours=hours_ahead)).replace(second=0, microsecond=0)
        start += timedelta(minutes=offset_minutes)
        return FreedSlot(calendar_id=self.calendar_id, start=start, end=start + timedelta(minutes=minutes),
                         owner_id="owner-1", appointment_type="consultation", freed_by="cancellation")

    def add_waiting(self, count: int) -> list[Contact]:
        phone, zone = daytime_contact()
        base = datetime.now(UTC) - timedelta(days=30)
        contacts = []
        for n in range(count):
            contact = Contact(contact_id=f"w-{uuid.uuid4().hex[:10]}", name=f"Waiting {n}",
                              phone=phone[:-2] + f"{n + 10:02d}", email=f"w{n}-{uuid.uuid4().hex[:6]}@example.com",
                              timezone=zone)
            self.deps.crm.upsert_contact(contact)
            # oldest first: contact 0 has waited longest
            self.waitlist.add(contact.contact_id, "consultation", self.calendar_id, at=base + timedelta(hours=n))
            contacts.append(contact)
        return contacts

    def key(self, contact: Contact) -> str:
        return contact_key_for(contact.contact_id, self.deps.settings.auth.id_salt)

    def messages(self, backfill_id: str) -> list[dict[str, object]]:
        return self.deps.outbox.messages(case_id=backfill_id)

    def templates_for(self, backfill_id: str, contact: Contact) -> list[str]:
        key = self.key(contact)
        return sorted(str(m["template_id"]).split("@")[0] for m in self.messages(backfill_id)
                      if m["contact_key"] == key)

    def bookings(self, slot: FreedSlot) -> list[dict[str, object]]:
        with self.deps.db.connect() as conn:
            rows = conn.execute(
                "SELECT * FROM appointments WHERE calendar_id = ? AND status = 'booked' AND start_at < ? "
                "AND end_at > ?",
                (slot.calendar_id, slot.end.astimezone(UTC).isoformat(), slot.start.astimezone(UTC).isoformat()),
            ).fetchall()
        return [dict(r) for r in rows]

    def holds(self, backfill_id: str) -> int:
        with self.deps.db.connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM holds WHERE case_id = ?", (backfill_id,)).fetchone()[0])

    async def state(self, backfill_id: str) -> BackfillState:
        return await self.client.get_workflow_handle(backfill_id).query(SlotBackfill.state_query)

    async def result(self, backfill_id: str) -> BackfillState:
        return await self.client.get_workflow_handle(backfill_id, result_type=BackfillState).result()

    async def stage_attribute(self, backfill_id: str) -> str | None:
        desc = await self.client.get_workflow_handle(backfill_id).describe()
        return desc.typed_search_attributes.get(sa.STAGE)


@pytest_asyncio.fixture
async def backfill(client: Client, task_queue: str, tmp_path: Path) -> AsyncIterator[BackfillStack]:
    settings = settings_for(tmp_path, task_queue, backfill_policy())
    deps = build_dependencies(settings)
    worker = Worker(
        client, task_queue=task_queue, workflows=[SlotBackfill],
        activities=case_activities(deps, client),
        activity_executor=ThreadPoolExecutor(max_workers=16),
        max_cached_workflows=0,  # every task replays from history: nondeterminism fails fast
    )
    task = asyncio.create_task(worker.run())
    try:
        yield BackfillStack(client, deps, LocalWaitlist(deps.db), f"cal-{uuid.uuid4().hex[:8]}")
    finally:
        await worker.shutdown()
        await asyncio.gather(task, return_exceptions=True)


async def test_first_acceptance_wins_and_the_others_hear_it_is_gone(backfill: BackfillStack) -> None:
    rules = BackfillRules(batch_size=2, batch_wait_minutes=10, max_batches=2)
    a, b, c = backfill.add_waiting(3)
    freed = backfill.freed()
    backfill_id = await start_backfill(backfill.client, backfill.deps, freed, rules)
    assert backfill_id.startswith("backfill-") and backfill.calendar_id not in backfill_id
    # freeing the same slot again joins the running backfill
    assert await start_backfill(backfill.client, backfill.deps, freed, rules) == backfill_id
    state = await eventually(lambda: backfill.state(backfill_id), lambda s: len(s.offered) == 2)
    assert state.offered == [backfill.key(a), backfill.key(b)]  # oldest first, one batch
    assert backfill.holds(backfill_id) == 1
    assert await backfill.stage_attribute(backfill_id) == "backfilling"

    # c was never offered the slot: its yes is ignored; then b answers before a
    await accept_offer(backfill.client, backfill_id, c.contact_id, "r-c")
    await accept_offer(backfill.client, backfill_id, b.contact_id, "r-b")
    await accept_offer(backfill.client, backfill_id, a.contact_id, "r-a")
    result = await backfill.result(backfill_id)

    assert result.stage == "backfilled" and result.winner == backfill.key(b)
    booked = backfill.bookings(freed)
    assert len(booked) == 1 and booked[0]["contact_id"] == b.contact_id
    assert booked[0]["appointment_id"] == result.appointment_id
    assert backfill.templates_for(backfill_id, b) == ["confirm_booking", "waitlist_offer"]
    assert backfill.templates_for(backfill_id, a) == ["slot_gone", "waitlist_offer"]
    assert backfill.templates_for(backfill_id, c) == []
    waiting = [e.contact_id for e in backfill.waitlist.waiting("consultation", backfill.calendar_id)]
    assert waiting == [a.contact_id, c.contact_id]  # the winner left the waitlist
    assert backfill.holds(backfill_id) == 0
    assert await backfill.stage_attribute(backfill_id) == "backfilled"
    # no PII in message ids
    assert all(str(b.phone) not in str(m["message_id"]) and b.contact_id not in str(m["message_id"])
               for m in backfill.messages(backfill_id))
    # a yes after the backfill finished is answered as closed
    late = await accept_offer(backfill.client, backfill_id, a.contact_id, "r-a-late")
    assert late.status == "closed"


async def test_five_concurrent_acceptances_book_exactly_once(backfill: BackfillStack) -> None:
    rules = BackfillRules(batch_size=5, batch_wait_minutes=10, max_batches=1)
    contacts = backfill.add_waiting(5)
    freed = backfill.freed()
    backfill_id = await start_backfill(backfill.client, backfill.deps, freed, rules)
    await eventually(lambda: backfill.state(backfill_id), lambda s: len(s.offered) == 5)

    await asyncio.gather(*(accept_offer(backfill.client, backfill_id, c.contact_id, f"r-{i}")
                           for i, c in enumerate(contacts)))
    result = await backfill.result(backfill_id)

    assert result.stage == "backfilled"
    booked = backfill.bookings(freed)
    assert len(booked) == 1
    winner = next(c for c in contacts if backfill.key(c) == result.winner)
    assert booked[0]["contact_id"] == winner.contact_id
    for contact in contacts:
        expected = "confirm_booking" if contact is winner else "slot_gone"
        assert backfill.templates_for(backfill_id, contact) == sorted([expected, "waitlist_offer"])


async def test_two_acceptances_racing_book_exactly_once(backfill: BackfillStack) -> None:
    rules = BackfillRules(batch_size=2, batch_wait_minutes=10, max_batches=1)
    a, b = backfill.add_waiting(2)
    freed = backfill.freed()
    backfill_id = await start_backfill(backfill.client, backfill.deps, freed, rules)
    await eventually(lambda: backfill.state(backfill_id), lambda s: len(s.offered) == 2)
    # the same yes delivered twice counts once; the other contact's yes loses the race either way
    await asyncio.gather(accept_offer(backfill.client, backfill_id, a.contact_id, "r-a"),
                         accept_offer(backfill.client, backfill_id, backfill.key(b), "r-b"),
                         accept_offer(backfill.client, backfill_id, a.contact_id, "r-a"))
    result = await backfill.result(backfill_id)
    assert result.winner in (backfill.key(a), backfill.key(b))
    assert len(backfill.bookings(freed)) == 1


async def test_backfill_and_recovery_case_racing_for_one_slot_book_once(backfill: BackfillStack) -> None:
    rules = BackfillRules(batch_size=1, batch_wait_minutes=10, max_batches=1)
    (a,) = backfill.add_waiting(1)
    freed = backfill.freed()
    backfill_id = await start_backfill(backfill.client, backfill.deps, freed, rules)
    await eventually(lambda: backfill.state(backfill_id), lambda s: len(s.offered) == 1)

    # a recovery case tries to book the very same time while the waitlisted contact says yes
    scheduling = SchedulingActivities(backfill.deps.calendar, backfill.deps.ledger, "secret", "http://127.0.0.1")
    rival = appointment(calendar_id=backfill.calendar_id)
    slot = Slot(start=freed.start, end=freed.end, calendar_id=freed.calendar_id, owner_id=freed.owner_id)
    case_book = asyncio.to_thread(scheduling.book_slot, BookRequest(
        case_id=f"case-{uuid.uuid4().hex[:12]}", contact_key="ck-rival", slot=slot, appointment=rival, attempt=1))
    case_result, _ = await asyncio.gather(case_book, accept_offer(backfill.client, backfill_id, a.contact_id, "r-a"))
    result = await backfill.result(backfill_id)

    booked = backfill.bookings(freed)
    assert len(booked) == 1
    # the backfill's hold protects the slot it is offering: the case is refused and re-offers elsewhere
    assert not case_result.booked and result.stage == "backfilled"

    # a second backfill of an overlapping time cannot hold it and sends nothing
    overlapping = backfill.freed(offset_minutes=15)
    other_id = await start_backfill(backfill.client, backfill.deps, overlapping, rules)
    assert other_id != backfill_id
    other = await backfill.result(other_id)
    assert other.stage == "unavailable" and backfill.messages(other_id) == []


async def test_two_backfills_booking_one_slot_through_the_calendar_book_once(backfill: BackfillStack) -> None:
    # no holds: only the calendar's BEGIN IMMEDIATE booking stands between eight racing bookers
    acts = BackfillActivities(backfill.deps.calendar, backfill.waitlist, backfill.deps.crm, "noshow")
    freed = backfill.freed(hours_ahead=5)
    slot = Slot(start=freed.start, end=freed.end, calendar_id=freed.calendar_id)
    results = await asyncio.gather(*(asyncio.to_thread(acts.book_backfill, BackfillBookRequest(
        backfill_id=f"backfill-{n}", slot=slot, appointment_type="consultation", contact_id=f"w-{n}",
        idempotency_key=f"backfill-{n}-book")) for n in range(8)))
    assert sum(r.booked for r in results) == 1
    assert len(backfill.bookings(freed)) == 1


async def test_opted_out_contact_gets_no_offer_and_silence_expires(backfill: BackfillStack) -> None:
    rules = BackfillRules(batch_size=1, batch_wait_minutes=1 / 60, max_batches=3)  # one-second windows
    opted_out, b, c = backfill.add_waiting(3)
    backfill.deps.consent.opt_out("stop-1", backfill.key(opted_out), evidence="STOP",
                                 evidence_channel="sms")
    freed = backfill.freed()
    backfill_id = await start_backfill(backfill.client, backfill.deps, freed, rules)
    result = await backfill.result(backfill_id)

    assert result.stage == "expired"
    assert result.offered == [backfill.key(b), backfill.key(c)]  # the batch moved on to the next contact
    assert backfill.templates_for(backfill_id, opted_out) == []
    assert backfill.templates_for(backfill_id, b) == ["waitlist_offer"]
    assert backfill.holds(backfill_id) == 0  # the hold is released
    assert backfill.bookings(freed) == []
    assert await backfill.stage_attribute(backfill_id) == "expired"
    assert len(backfill.waitlist.waiting("consultation", backfill.calendar_id)) == 3


async def test_a_yes_reply_from_an_offered_contact_books_through_backfill_reply(backfill: BackfillStack) -> None:
    rules = BackfillRules(batch_size=2, batch_wait_minutes=10, max_batches=1)
    a, b = backfill.add_waiting(2)
    freed = backfill.freed()
    backfill_id = await start_backfill(backfill.client, backfill.deps, freed, rules)
    await eventually(lambda: backfill.state(backfill_id), lambda s: len(s.offered) == 2)
    assert backfill.deps.outbox.case_for_recipient(str(b.phone)) == backfill_id  # replies route to the backfill

    now = datetime.now(UTC)
    maybe = Reply(reply_id="r-b-1", channel=Channel.sms, text="what time was that again?", received_at=now)
    assert await backfill_reply(backfill.client, backfill.deps, backfill_id, maybe, str(b.phone)) == "not_a_yes"
    stranger = Reply(reply_id="r-x", channel=Channel.sms, text="yes", received_at=now)
    assert await backfill_reply(backfill.client, backfill.deps, backfill_id, stranger, "+10000000000") \
        == "unknown_sender"
    yes = Reply(reply_id="r-b-2", channel=Channel.sms, text="Yes please", received_at=now)
    assert await backfill_reply(backfill.client, backfill.deps, backfill_id, yes, str(b.phone)) == "signalled"

    result = await backfill.result(backfill_id)
    assert result.stage == "backfilled" and result.winner == backfill.key(b)
    assert [r["contact_id"] for r in backfill.bookings(freed)] == [b.contact_id]
    assert backfill.templates_for(backfill_id, a) == ["slot_gone", "waitlist_offer"]
