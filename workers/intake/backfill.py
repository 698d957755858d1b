"""Starting waitlist backfills and passing acceptances to them: shared by the API, the CLI and the case service.

Call `start_backfill` when a slot
is freed ahead of time; route a waitlisted contact's reply to a `backfill-...` id through `backfill_reply` (or
call `accept_offer` directly once the reply is understood as a yes).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import structlog
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from domain.backfill import BackfillAccept, BackfillInput, FreedSlot, backfill_id_for
from domain.models import Appointment, Contact, LedgerEvent, Reply, ReplyIntent
from policies import replies as reply_policy
from policies.loader import resolve
from policies.schema import BackfillRules
from workers.dependencies import Dependencies
from workflows.backfill import SlotBackfill
from workflows.search_attributes import PROGRAM

log = structlog.get_logger(__name__)



class BackfillSkipped(ValueError):
    """The freed slot is not backfilled (policy, timing). The message carries no PII."""


class AcceptOutcome(BaseModel):
    backfill_id: str
    status: Literal["signalled", "closed"]



def backfill_input(deps: Dependencies, freed: FreedSlot, rules: BackfillRules | None = None) -> BackfillInput:
    """The workflow input for a freed slot under the current policy; BackfillSkipped when it is not covered.

    Batch settings: `rules` when given (tests, operators), else the program's `rebooking.backfill`."""
    if freed.end <= freed.start:
        raise BackfillSkipped("the freed slot ends before it starts")
    # the program is chosen exactly as for a case about this slot; the contact is a stand-in (no one yet)
    probe = Appointment(
        source=freed.source, appointment_id="backfill-probe", appointment_type=freed.appointment_type,
        calendar_id=freed.calendar_id, owner_id=freed.owner_id, location_id=freed.location_id,
        start=freed.start, end=freed.end, value=freed.value, contact=Contact(contact_id="waitlist"),
    )
    resolved, reason = resolve(deps.policy(), probe)
    if resolved is None:
        raise BackfillSkipped(f"policy does not cover this slot ({reason})")
    rebooking = resolved.program.rebooking
    rules = rules or rebooking.backfill
    if not rebooking.enabled or not rules.enabled:
        raise BackfillSkipped("rebooking or backfill is disabled for this program")
    return BackfillInput(
        backfill_id=backfill_id_for(freed.calendar_id, freed.start, deps.settings.auth.id_salt), slot=freed,
        resolved=resolved, batch_size=rules.batch_size, batch_wait_minutes=rules.batch_wait_minutes,
        max_batches=rules.max_batches, stop_before_minutes=rules.stop_before_minutes,
    )


async def start_backfill(client: Client, deps: Dependencies, freed: FreedSlot,
                         rules: BackfillRules | None = None) -> str:
    """Start the backfill of a freed slot; freeing the same slot again joins the running one. Returns its id."""
    if freed.start <= datetime.now(UTC):
        raise BackfillSkipped("the freed slot has already started")
    inp = backfill_input(deps, freed, rules)
    if freed.start - timedelta(minutes=inp.stop_before_minutes) <= datetime.now(UTC):
        raise BackfillSkipped("too close to the slot for anyone to plan for it")
    handle = await client.start_workflow(
        SlotBackfill.run,
        inp,
        id=inp.backfill_id,
        task_queue=deps.settings.temporal.task_queue,
        # a running backfill of this slot is the one; a finished one may run again (the winner cancelled too)
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        # the program, for the API's program scope (set at start: free, and no workflow change)
        search_attributes=TypedSearchAttributes([SearchAttributePair(PROGRAM, inp.resolved.program.name)]),
    )
    deps.ledger.append(LedgerEvent(
        event_id=f"{inp.backfill_id}:{handle.result_run_id}:backfill_opened", case_id=inp.backfill_id,
        type="backfill_opened", at=datetime.now(UTC), source=freed.source, appointment_type=freed.appointment_type,
        owner_id=freed.owner_id, location_id=freed.location_id, value=freed.value, reason=freed.freed_by,
        program=inp.resolved.program.name,
    ))
    log.info("backfill_started", backfill_id=inp.backfill_id, run_id=handle.result_run_id)
    return inp.backfill_id


async def offer_freed_slot(client: Client, deps: Dependencies, freed: FreedSlot) -> str | None:
    """Offer a freed slot to the waitlist when someone waits for it and the policy allows. Never raises for a
    slot that is simply not backfilled: the cancellation that freed it has its own path, and a backfill is a bonus.
    Returns the backfill id, or None."""
    if not deps.waitlist.waiting(freed.appointment_type, freed.calendar_id, limit=1):
        log.info("backfill_skipped", reason="nobody is waiting for this type on this calendar")
        return None
    try:
        return await start_backfill(client, deps, freed)
    except BackfillSkipped as exc:
        log.info("backfill_skipped", reason=str(exc))
    except RPCError as exc:
        log.warning("backfill_not_started", error=type(exc).__name__, status=exc.status.name)
    return None


async def accept_offer(client: Client, backfill_id: str, contact_id: str, reply_id: str) -> AcceptOutcome:
    """A waitlisted contact said yes. contact_id is the CRM contact id or the opaque contact key.

    The workflow decides: the first acceptance from an offered contact books, every other one is told the slot
    is gone. A backfill that has already finished answers `closed` (tell the sender the slot is gone)."""
    try:
        await client.get_workflow_handle(backfill_id).signal(
            SlotBackfill.accept, BackfillAccept(contact_id=contact_id, reply_id=reply_id)
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        log.info("backfill_accept_closed", backfill_id=backfill_id)
        return AcceptOutcome(backfill_id=backfill_id, status="closed")
    return AcceptOutcome(backfill_id=backfill_id, status="signalled")


def is_backfill_id(case_id: str | None) -> bool:
    return bool(case_id) and str(case_id).startswith("backfill-")


async def backfill_reply(client: Client, deps: Dependencies, backfill_id: str, reply: Reply,
                         sender: str) -> Literal["signalled", "closed", "not_a_yes", "unknown_sender"]:
    """A reply to a waitlist offer (the outbox routed `sender` to a backfill id): a clear yes accepts.

    Opt-outs are not handled here: the caller records them as for any reply, using
    `LocalWaitlist.contact_key_for_reply` (one backfill writes to many contacts)."""
    contact_key = deps.waitlist.contact_key_for_reply(backfill_id, sender)
    if contact_key is None:
        return "unknown_sender"
    try:
        state = await client.get_workflow_handle(backfill_id).query(SlotBackfill.state_query)
    except RPCError:
        return "closed"
    if state.slot_start is None:
        return "closed"
    understood = reply_policy.understand(reply_policy.ReplyInput(
        text=reply.text, offered=[state.slot_start], now=reply.received_at, timezone=state.timezone))
    # the offer names exactly one time, so "yes" (or "1") is a pick of that one slot
    if understood.intent != ReplyIntent.pick_slot or understood.needs_review:
        return "not_a_yes"
    outcome = await accept_offer(client, backfill_id, contact_key, reply.reply_id)
    return outcome.status
