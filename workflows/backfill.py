"""Waitlist backfill: offer a freed slot to waitlisted contacts in batches; the first acceptance gets it.

Deterministic like the case workflow: time from `workflow.now()`, side effects in activities with idempotency
keys built from the backfill id. Acceptances arrive as signals and are decided one at a time by the workflow's
single thread; the calendar's BEGIN IMMEDIATE booking (behind this backfill's hold) is the second guard, so two
people saying yes at once, or a recovery case racing for the same time, never double-book.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Literal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import workflows.common as common  # not `from workflows import`: that would re-import it per sandbox
    import workflows.search_attributes as sa
    from activities.backfill import BackfillActivities
    from activities.messaging import MessagingActivities
    from activities.scheduling import SchedulingActivities
    from domain.backfill import (
        BackfillAccept,
        BackfillBookRequest,
        BackfillBookResult,
        BackfillInput,
        BackfillState,
        HoldRequest,
        WaitlistCandidate,
        WaitlistCandidates,
        WaitlistRemoval,
        WaitlistRequest,
    )
    from domain.case import SendRequest, SendResult
    from domain.models import Appointment, Channel, Slot
    from policies import sequences as sequence_policy
    from policies.schema import Segment

OFFER_TEMPLATE = "waitlist_offer"
GONE_TEMPLATE = "slot_gone"
CONFIRM_TEMPLATE = "confirm_booking"

BACKFILLING = "backfilling"
BACKFILLED = "backfilled"
EXPIRED = "expired"
UNAVAILABLE = "unavailable"


@workflow.defn(name="SlotBackfill")
class SlotBackfill:
    @workflow.init
    def __init__(self, inp: BackfillInput) -> None:
        self.inp = inp
        self.state = BackfillState(backfill_id=inp.backfill_id, stage=BACKFILLING, slot_start=inp.slot.start,
                                   timezone=inp.resolved.program.send.default_timezone)
        self.accepts: list[BackfillAccept] = []
        self.seen_replies: set[str] = set()
        self.offered: dict[str, WaitlistCandidate] = {}  # contact key -> candidate, in offer order
        self.mark = common.StageMark()  # what the search attributes show

    @workflow.signal
    def accept(self, acceptance: BackfillAccept) -> None:
        if acceptance.reply_id in self.seen_replies:
            return  # the same reply delivered again
        self.seen_replies.add(acceptance.reply_id)
        self.accepts.append(acceptance)

    @workflow.query
    def state_query(self) -> BackfillState:
        return self.state

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, inp: BackfillInput) -> BackfillState:
        freed = inp.slot
        offers_close = freed.start - timedelta(minutes=inp.stop_before_minutes)
        await self._set_stage(BACKFILLING)
        if workflow.now() >= offers_close:
            return await self._finish(EXPIRED, "too close to the slot to offer it")
        held = await common.run_activity(
            BackfillActivities.hold_backfill_slot,
            HoldRequest(backfill_id=inp.backfill_id, slot=self._slot(), expires_at=freed.start))
        if not held:
            return await self._finish(UNAVAILABLE, "slot is no longer free")
        waiting: WaitlistCandidates = await common.run_activity(
            BackfillActivities.read_waitlist,
            WaitlistRequest(appointment_type=freed.appointment_type, calendar_id=freed.calendar_id,
                            limit=min(inp.batch_size * inp.max_batches * 3, 1000)),
        )
        queue = list(waiting.candidates)
        for batch in range(1, inp.max_batches + 1):
            if await self._decide():
                return self.state
            if workflow.now() >= offers_close or not queue:
                break  # too late for new offers, or nobody left to ask: the last window has been waited
            self.state.batch = batch
            sent_now = 0
            while queue and sent_now < inp.batch_size and not self.accepts:
                if await self._offer(queue.pop(0), batch):
                    sent_now += 1
            if sent_now == 0 and not self.accepts:
                break  # the rest of the waitlist could not be reached
            due = min(workflow.now() + timedelta(minutes=inp.batch_wait_minutes), offers_close)
            await self._set_stage(BACKFILLING, next_action_at=due)
            while True:
                await self._wait(due)
                if await self._decide():
                    return self.state
                if workflow.now() >= due:
                    break  # a yes from someone not offered the slot does not cut the window short
        if await self._decide():
            return self.state
        await common.run_activity(SchedulingActivities.release_holds, inp.backfill_id)
        # a yes that arrived after the last decision must not go unanswered
        late = [c for c in (self._candidate(a.contact_id) for a in self.accepts) if c is not None]
        for candidate in late:
            await self._send(candidate, f"gone-{candidate.contact_key}", GONE_TEMPLATE, {}, purpose="transactional")
        why = "nobody on the waitlist accepted" if self.offered else "nobody on the waitlist could be offered"
        return await self._finish(EXPIRED, why)

    # ------------------------------------------------------------------ steps

    async def _decide(self) -> bool:
        """Take acceptances in arrival order; the first one from an offered contact books the slot."""
        while self.accepts:
            acceptance = self.accepts.pop(0)
            candidate = self._candidate(acceptance.contact_id)
            if candidate is None:
                continue  # not someone this backfill offered the slot to
            result: BackfillBookResult = await common.run_activity(
                BackfillActivities.book_backfill,
                BackfillBookRequest(
                    backfill_id=self.inp.backfill_id, slot=self._slot(),
                    appointment_type=self.inp.slot.appointment_type, contact_id=candidate.contact.contact_id,
                    # one booking per run of this backfill, whoever it is for: a retry can never add a second
                    idempotency_key=f"{self.inp.backfill_id}-{workflow.info().run_id}-book",
                ),
            )
            if not result.booked:
                await self._tell_gone(exclude=None)
                await common.run_activity(SchedulingActivities.release_holds, self.inp.backfill_id)
                await self._finish(UNAVAILABLE, f"booking refused: {result.reason}")
                return True
            self.state.winner = candidate.contact_key
            self.state.appointment_id = result.appointment_id
            await common.run_activity(
                BackfillActivities.remove_from_waitlist,
                WaitlistRemoval(contact_id=candidate.contact.contact_id,
                                appointment_type=self.inp.slot.appointment_type,
                                calendar_id=self.inp.slot.calendar_id),
            )
            when = self.inp.slot.start.isoformat(timespec="minutes")
            await self._send(candidate, f"confirm-{candidate.contact_key}", CONFIRM_TEMPLATE,
                             {"new_appointment_time": when}, purpose="transactional")
            await self._tell_gone(exclude=candidate.contact_key)
            await self._finish(BACKFILLED, "booked for the first acceptance")
            return True
        return False

    async def _offer(self, candidate: WaitlistCandidate, batch: int) -> bool:
        if candidate.contact_key in self.offered:
            return False
        result = await self._send(candidate, f"offer-{candidate.contact_key}-b{batch}", OFFER_TEMPLATE, {},
                                  purpose="recovery", first=True)
        if result.status != "sent":
            # opted out, unreachable, capped or outside the window now: an opening cannot wait, so move on
            return False
        self.offered[candidate.contact_key] = candidate
        self.state.offered.append(candidate.contact_key)
        return True

    async def _tell_gone(self, exclude: str | None) -> None:
        for key, candidate in self.offered.items():
            if key != exclude:
                await self._send(candidate, f"gone-{key}", GONE_TEMPLATE, {}, purpose="transactional")

    async def _send(self, candidate: WaitlistCandidate, step: str, template: str, extra: dict[str, str],
                    purpose: Literal["recovery", "transactional"], first: bool = False) -> SendResult:
        freed = self.inp.slot
        appointment = Appointment(
            source=freed.source, appointment_id=self.inp.backfill_id, appointment_type=freed.appointment_type,
            calendar_id=freed.calendar_id, owner_id=freed.owner_id, location_id=freed.location_id,
            start=freed.start, end=freed.end, value=freed.value, contact=candidate.contact,
        )
        request = SendRequest(
            message_id=f"{self.inp.backfill_id}-{step}", case_id=self.inp.backfill_id,
            contact_key=candidate.contact_key, appointment=appointment,
            resolved=common.slim(self.inp.resolved, template),
            template_id=template, channels=self._channels(), variables=extra, first_message=first,
            created_at=workflow.now(), ledger={"segment": None, "arm": None}, purpose=purpose,
        )
        while True:
            result: SendResult = await common.run_activity(MessagingActivities.send_message, request)
            # an offer cannot wait for the morning (the next person can take it); answers and notices wait
            # through quiet hours, but never past the slot itself
            retry_at = result.next_allowed_at
            if result.status != "deferred" or retry_at is None or purpose == "recovery" or retry_at >= freed.start:
                return result
            await self._set_stage(self.state.stage, next_action_at=retry_at)
            await workflow.sleep(max((retry_at - workflow.now()).total_seconds(), 0.0))

    # ------------------------------------------------------------------ helpers

    def _candidate(self, contact: str) -> WaitlistCandidate | None:
        found = self.offered.get(contact)
        if found is not None:
            return found
        return next((c for c in self.offered.values() if c.contact.contact_id == contact), None)

    def _slot(self) -> Slot:
        freed = self.inp.slot
        return Slot(start=freed.start, end=freed.end, calendar_id=freed.calendar_id, owner_id=freed.owner_id)

    def _channels(self) -> list[Channel]:
        seq = sequence_policy.sequence_for(self.inp.resolved.program, Segment.first_time)
        return list(seq.steps[0].channels)

    async def _wait(self, until: datetime) -> None:
        timeout = max((until - workflow.now()).total_seconds(), 0.0)
        if timeout == 0.0:
            return
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: bool(self.accepts), timeout=timeout)

    async def _finish(self, stage: str, why: str) -> BackfillState:
        self.state.outcome = why
        await self._set_stage(stage, outcome=stage)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state

    async def _set_stage(self, stage: str, next_action_at: datetime | None = None, outcome: str | None = None
                         ) -> None:
        first = self.mark.stage is None
        self.state.stage = stage
        self.state.next_action_at = next_action_at
        if not self.mark.move(stage, next_action_at) and outcome is None:
            return
        static = [
            sa.SOURCE.value_set(self.inp.slot.source),
            sa.APPOINTMENT_TYPE.value_set(self.inp.slot.appointment_type),
            sa.POLICY_VERSION.value_set(self.inp.resolved.policy_version),
        ] if first else []
        workflow.upsert_search_attributes(common.stage_updates(stage, next_action_at, outcome=outcome, static=static))


__all__ = ["BackfillAccept", "BackfillInput", "BackfillState", "SlotBackfill"]
