"""The ground every stage of a recovery case stands on: its state, durable waits, closing, stage and ledger
bookkeeping, CRM writes and the close-out.

The case is composed of layers, each a module of its own and each built on the ones below it:

    case_base          state, waits, stage marks, ledger, close-out       (this module)
    case_sending       one logical message, through deferrals and refusals
    case_conversation  understanding a reply; STOP / START / HELP answered wherever the case is
    case_review        the review gate and every later review
    case_booking       offer, pick, book, follow the new appointment, move it again
    case_sequence      the recovery sequence and the conversation it starts
    case_watch         watching the booking (confirmation, reminders, replies, changes by hand) and the
                       attendance check (this base below it; sending and replies come from the stages above)

RecoveryCaseWorkflow (workflows/case.py) is the sequence and the watch put together, with the entry points.

Why modules passed through the sandbox: the sandbox re-imports a workflow's own module for every case it runs
and keeps that copy while the case is cached (about 100 KB of bytecode a case). Imported through
`imports_passed_through`, these are loaded once per worker and shared. The price is that the sandbox does not
guard them, so their rules are tests instead: tests/engine/test_sandbox_guard.py fails on any clock, random,
environment, file or thread use in any of them, the command fingerprint (scripts/update_fingerprint.py) covers
their methods as part of RecoveryCase, and the saved histories replay through them.

Deterministic: time comes from `workflow.now()`, every decision is a pure call into `policies/`, every side
effect is an activity, named by its method on the activity class, with an idempotency key built from the case
id and the step. Versions: workflows/case_versions.py, and the plan for them in workflows/case.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

import workflows.case_versions as versions
import workflows.common as common
import workflows.search_attributes as sa
from activities.crm import CrmActivities
from activities.ledger import LedgerActivities
from activities.scheduling import SchedulingActivities
from domain.case import (
    CaseInput,
    CaseState,
    ConsentChange,
    CrmUpdate,
    LedgerBatch,
    OptOutNotice,
    ReviewDecision,
    SlotChoice,
    TimelineEntry,
)
from domain.models import TERMINAL_STAGES, AttendanceSignal, LedgerEvent, Reply, Stage
from policies import attendance as attendance_policy
from policies import review as review_policy
from workflows.case_versions import CRM_EVERY_CLOSE_PATCH

# the two ends of a case that booked: the new appointment's holds are its own, nothing to release
BOOKED_ENDS = frozenset({Stage.confirmed, Stage.rebooked_missed})
# the CRM's recovery status for the ends that used to write nothing there (unrecovered and the booked ends do)
CLOSE_STATUS = {
    Stage.opted_out: "opted_out", Stage.suppressed: "suppressed", Stage.cancelled: "cancelled",
    Stage.attended: "attended", Stage.closed_by_reviewer: "closed_by_reviewer", Stage.rebooked_missed: "not_kept",
}


class CaseClosed(Exception):
    """Raised inside the run to unwind to the close-out once a terminal stage is reached."""


class CaseBase:
    """State and bookkeeping of one case; the stages are the classes built on it."""

    def _setup(self, inp: CaseInput) -> None:
        # the worker keeps the input for the case's life: point it at the worker's one copy of this program
        inp.resolved = common.shared_program(inp.resolved)
        self.inp = inp
        self.appointment = inp.appointment
        self.program = inp.resolved.program
        self.state = CaseState(
            case_id=inp.case_id,
            kind=inp.kind,
            stage=inp.initial_stage(),
            policy_version=inp.resolved.policy_version,
            program=self.program.name,
            source=inp.appointment.source,
            appointment_type=inp.appointment.appointment_type,
        )
        self.signals: list[AttendanceSignal] = []
        self.seen_ids: set[str] = set()
        self.replies: list[Reply] = []
        self.decision: ReviewDecision | None = None
        self.opt_out: OptOutNotice | None = None
        self.closing: tuple[Stage, str] | None = None
        self.slot_choice: SlotChoice | None = None
        self.wake = False
        self.pending_ledger: list[LedgerEvent] = []
        self.review_count = 0
        self.reply_count = 0
        self.offer_attempt = 0
        self.ledger_seq = 0
        self.prior_no_shows = 0
        self.attendance: attendance_policy.AttendanceDecision | None = None
        self.owner_ok = False
        self.declined: list[datetime] = []
        self.slot_taken = False
        self.mark = common.StageMark()  # what the search attributes show
        self.version: versions.CaseVersion = versions.CLASSIC  # LEAN_PATCH, decided when the run starts
        self.opted_out_channels: set[str] = set()  # as the last pre-send check saw them
        # the last side effect, run at close-out (versions that defer it)
        self.final: tuple[Callable[..., object], CrmUpdate | ConsentChange] | None = None
        self.unreachable_reviewed = False
        self.decided_review: str | None = None  # the last review whose decision the case acted on
        self.resending: str | None = None  # the template sent again after an approval (UNREACHABLE_RETRY_PATCH)

    # ------------------------------------------------------------------ waiting and closing

    async def _wait(self, until: datetime | None, replies: bool, decision: bool = False, choice: bool = False,
                    flush: bool = True) -> None:
        """Sleep durably until `until` or until something the current stage cares about arrives. Lean: ledger
        events nothing carried yet are written before the case sits (reports and repeat routing stay current);
        not while watching a booking, which waits for days with only `case_opened` to tell."""

        def ready() -> bool:
            return bool(
                self.closing
                or self.opt_out
                or self.wake
                or (replies and self.replies)
                or (decision and self.decision is not None)
                or (choice and self.slot_choice is not None)
            )

        def left() -> float | None:
            return None if until is None else max((until - workflow.now()).total_seconds(), 0.0)

        self.wake = False
        if left() == 0.0:
            return
        if self.version.writes_ledger_before_waiting() and flush and self.pending_ledger and not ready():
            await self._flush_ledger()
        timeout = left()
        if timeout == 0.0:
            return
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(ready, timeout=timeout)

    def _raise_if_closing(self) -> None:
        if self.opt_out is not None:
            self._terminal(Stage.opted_out, "opted out (all cases for this contact)")
        if self.closing is not None:
            stage, why = self.closing
            self._terminal(stage, why)

    def _terminal(self, stage: Stage, why: str) -> None:
        self.state.stage = stage
        self.state.close_reason = why
        raise CaseClosed()

    async def _finish(self, stage: Stage, why: str) -> None:
        self._terminal(stage, why)

    async def _finish_after(self, activity: Callable[..., object], request: CrmUpdate | ConsentChange, stage: Stage,
                            why: str) -> None:
        """Close the case after its last side effect. Lean: that activity runs in the close-out, carrying the
        closing ledger events (nothing happens in between, so the order is the same)."""
        if self.version.defers_last_side_effect():
            self.final = (activity, request)
        else:
            await common.run_activity(activity, request)
        await self._finish(stage, why)

    def _route(self, code: str, reason: str) -> review_policy.ReviewRoute:
        """The review this case asks for on its way (a reply, owner approval, an unreachable customer)."""
        return self.version.route(self.program.review, code, reason)

    # ------------------------------------------------------------------ side effects every stage uses

    def _crm_update(self, step: str, fields: dict[str, str | None], note: str | None = None,
                    owner_task: str | None = None) -> CrmUpdate:
        fields = {**self._crm_context(owner_task), **fields}
        return CrmUpdate(case_id=self.inp.case_id, step=step, appointment=self.appointment,
                         resolved=common.slim(self.inp.resolved), fields=fields, note=note, owner_task=owner_task)

    def _crm_context(self, owner_task: str | None) -> dict[str, str | None]:
        """What every CRM write carries besides its own fields: the campaign the appointment came from, the risk
        the case has shown, the staff task it opened. Fields the write rules do not allow are refused there."""
        context: dict[str, str | None] = {}
        if self.appointment.campaign:
            context["source_campaign"] = self.appointment.campaign
        if self.prior_no_shows:
            context["risk_flag"] = f"repeat_no_show:{self.prior_no_shows + 1}"
        if owner_task:
            context["owner_task"] = owner_task[:200]
        return context

    async def _crm(self, step: str, fields: dict[str, str | None], note: str | None = None,
                   owner_task: str | None = None) -> None:
        update = self._crm_update(step, fields, note=note, owner_task=owner_task)
        update.ledger_events = self._carry()
        await common.run_activity(CrmActivities.update_crm, update)

    async def _workflow_release(self) -> None:
        await common.run_activity(SchedulingActivities.release_holds, self.inp.case_id)

    async def _close_out(self) -> None:
        stage = self.state.stage
        self.state.next_action_at = None
        if self.state.offered and stage not in BOOKED_ENDS:
            await self._workflow_release()
        # lean: carried by the CRM write or the last side effect below; classic: written by the flush
        self._closing_ledger(stage)
        if stage == Stage.unrecovered:
            await self._crm("closed", {"outcome": self.state.kind.value, "recovery_status": "unrecovered",
                                       "missed_date": self.inp.appointment.start.date().isoformat(),
                                       **self._reactivation(stage)})
        elif stage in CLOSE_STATUS and workflow.patched(CRM_EVERY_CLOSE_PATCH):
            # every end is on the record, an opt-out included (before/after kept by the CRM write)
            fields: dict[str, str | None] = {"outcome": self.state.kind.value, "recovery_status": CLOSE_STATUS[stage],
                                             **self._reactivation(stage)}
            if self.state.verdict in ("no_show", "late_cancel", "admin_override"):
                fields["missed_date"] = self.inp.appointment.start.date().isoformat()
            await self._crm("close", fields, note=f"Case closed: {stage.value} ({self.state.close_reason})")
        if self.final is not None:
            activity, request = self.final
            await common.run_activity(activity, request.model_copy(update={"ledger_events": self._carry()}))
        await self._flush_ledger()
        await self._set_stage(stage)

    def _reactivation(self, stage: Stage) -> dict[str, str | None]:
        """The reactivation list's tag, written with the closing outcome when the program keeps one."""
        rules = self.program.reactivation
        if rules.crm_field is None:
            return {}
        repeat = self.prior_no_shows > 0 and self.state.verdict in ("no_show", "late_cancel")
        if stage.value in rules.include or (repeat and "repeat_no_show" in rules.include):
            return {rules.crm_field: rules.crm_value}
        return {}

    def _closing_ledger(self, stage: Stage) -> None:
        if self.state.close_reason == "rescheduled elsewhere":
            # the customer rebooked on their own: a recovery too, and the holdout arm's only kind
            self._ledger("rebooked", value=self.appointment.value, data={"organic": True})
        self._ledger("case_closed", outcome=stage.value, reason=self.state.close_reason, value=self.appointment.value)

    # ------------------------------------------------------------------ ledger

    def _ledger(self, type_: str, outcome: str | None = None, reason: str | None = None, value: float = 0.0,
                data: dict[str, str | float | int | bool | None] | None = None) -> None:
        appt = self.appointment
        self.ledger_seq += 1
        self.pending_ledger.append(LedgerEvent(
            event_id=f"{self.inp.case_id}:{self.ledger_seq}:{type_}",
            case_id=self.inp.case_id, type=type_, at=workflow.now(), source=appt.source,
            appointment_type=appt.appointment_type, kind=self.state.kind, owner_id=appt.owner_id,
            location_id=appt.location_id, segment=self.state.segment, arm=self.state.arm,
            value=value, outcome=outcome, reason=reason, data=data or {}, program=self.program.name,
        ))

    async def _flush_ledger(self) -> None:
        if self.pending_ledger:
            batch, self.pending_ledger = self.pending_ledger, []
            await common.run_activity(LedgerActivities.record_ledger, LedgerBatch(events=batch))

    async def _checkpoint(self) -> None:
        """Classic: what the ledger has so far is written now (lean: by the next activity, or before a wait)."""
        if self.version.writes_ledger_at_checkpoints():
            await self._flush_ledger()

    def _carry(self) -> list[LedgerEvent]:
        """Lean: hand the pending ledger events to the activity about to run, which writes them first."""
        if not self.version.carries_ledger() or not self.pending_ledger:
            return []
        batch, self.pending_ledger = self.pending_ledger, []
        return batch

    def _note(self, what: str) -> None:
        self.state.timeline.append(TimelineEntry(at=workflow.now(), what=what))
        if len(self.state.timeline) > 100:
            del self.state.timeline[:-100]

    # ------------------------------------------------------------------ stage

    async def _set_stage(self, stage: Stage, next_action_at: datetime | None = None, passing: bool = False) -> None:
        """The stage in the state (always) and in the search attributes (when the version finds it worth an
        upsert). `passing`: the next move, with its due time, follows at once."""
        started = workflow.info().typed_search_attributes if self.mark.stage is None else None
        self.state.stage = stage
        self.state.next_action_at = next_action_at
        upsert = self.version.upsert(self.mark, stage, next_action_at, passing, started)
        if not upsert.needed:
            return
        fixed: list[SearchAttributeUpdate[Any]] = [
            sa.SOURCE.value_set(self.appointment.source),
            sa.APPOINTMENT_TYPE.value_set(self.appointment.appointment_type),
            sa.CONTACT_KEY.value_set(self.inp.contact_key),
            sa.POLICY_VERSION.value_set(self.inp.resolved.policy_version),
        ] if upsert.with_fixed else []
        workflow.upsert_search_attributes(common.stage_updates(
            stage.value, next_action_at,
            extra=[sa.NEEDS_REVIEW.value_set(stage == Stage.awaiting_review), sa.KIND.value_set(self.state.kind.value)],
            outcome=stage.value if stage in TERMINAL_STAGES else None, static=fixed,
        ))
