"""The steps of a recovery case: what RecoveryCaseWorkflow (workflows/case.py) runs, as plain methods.

Why a module of its own: the workflow sandbox re-imports a workflow's own module for every case it runs and keeps
that copy while the case is cached, so each cached case held about 100 KB of this code's bytecode. Imported
through `imports_passed_through`, it is loaded once per worker and shared. The price is that the sandbox does not
guard this code, so its rules are tests instead: tests/engine/test_sandbox_guard.py fails on any clock, random,
environment, file or thread use here, the command fingerprint (scripts/update_fingerprint.py) covers these
methods as part of RecoveryCase, and the saved histories replay through them.

Deterministic: time comes from `workflow.now()`, every decision is a pure call into `policies/`, every side
effect is an activity with an idempotency key built from the case id and the step. Versions: see workflows/case.py.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

import workflows.common as common
import workflows.search_attributes as sa
from domain.case import (
    BookRequest,
    BookResult,
    CaseInput,
    CaseState,
    ConsentChange,
    CrmUpdate,
    CrmUpdateResult,
    Evidence,
    EvidenceRequest,
    LedgerBatch,
    Offer,
    OfferRequest,
    OptOutNotice,
    ReviewDecision,
    ReviewNotice,
    ReviewRequest,
    SendRequest,
    SendResult,
    SlotChoice,
    TimelineEntry,
    UnderstandRequest,
)
from domain.models import (
    TERMINAL_STAGES,
    AppointmentEvent,
    AttendanceSignal,
    CaseKind,
    Channel,
    EventType,
    LedgerEvent,
    Reply,
    ReplyIntent,
    ReplyUnderstanding,
    SignalKind,
    Slot,
    Stage,
    Verdict,
)
from policies import attendance as attendance_policy
from policies import rebooking as rebooking_policy
from policies import replies as reply_policy
from policies import review as review_policy
from policies import sequences as sequence_policy
from policies.experiments import assign_arm, ledger_arm
from policies.schema import LapseAction, Segment

ACTIVITY_TIMEOUT = common.ACTIVITY_TIMEOUT
RETRY = common.RETRY
POSITIVE_ATTENDANCE = frozenset({"attended", "completed", "showed", "arrived", "checked_in"})
HELP_TEMPLATE = "__help__"

LEAN_PATCH = "lean-case-1"
STOP_PATCH = "stop-queued-behind-send-1"
UNREACHABLE_PATCH = "unreachable-goes-to-review-1"
# stages the case passes through without waiting: not worth an upsert (one billed action each) under LEAN_PATCH
TRANSIENT_STAGES = frozenset({Stage.checking, Stage.rebooked})
# how long a send blocked by an opt-out waits for the STOP that caused it (signalled just after it was recorded)
OPT_OUT_GRACE = timedelta(seconds=30)


class CaseClosed(Exception):
    """Raised inside the run loop to unwind to the close-out once a terminal stage is reached."""


class CaseSteps:
    """Everything a case does between its entry points (RecoveryCaseWorkflow's init, run, signals, update)."""

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
        self.lean = False  # LEAN_PATCH, decided when the run starts
        self.opted_out_channels: set[str] = set()  # as the last pre-send check saw them
        self.final: tuple[str, CrmUpdate | ConsentChange] | None = None  # the last side effect, run at close-out
        self.unreachable_reviewed = False

    def _on_event(self, event: AppointmentEvent) -> None:
        if event.event_id in self.seen_ids:
            return  # the same webhook delivered again
        self.seen_ids.add(event.event_id)
        self._note(f"event {event.type.value}")
        if event.signal is not None:
            self.signals.append(event.signal)
        at = event.occurred_at
        stage = self.state.stage
        if event.type == EventType.cancelled:
            if stage == Stage.watching:
                self.signals.append(
                    AttendanceSignal(kind=SignalKind.cancellation, at=at, source=event.appointment.source)
                )
                self.state.kind = CaseKind.customer_cancel
                self.wake = True
        elif event.type == EventType.rescheduled:
            if stage == Stage.watching and event.new_start and event.new_end:
                # the same appointment moved: keep watching the new time
                self.appointment = self.appointment.model_copy(update={"start": event.new_start, "end": event.new_end})
                self.wake = True
            elif stage not in TERMINAL_STAGES and stage not in (Stage.rebooked, Stage.following):
                self.closing = (Stage.cancelled, "rescheduled elsewhere")
        elif event.type == EventType.no_show:
            if event.signal is None:
                self.signals.append(AttendanceSignal(kind=SignalKind.scheduler_status, at=at, value="no_show",
                                                     source=event.appointment.source))
            self.wake = True
        elif event.type == EventType.attended or (
            event.signal is not None and (event.signal.value or "").lower() in POSITIVE_ATTENDANCE
        ):
            if event.type == EventType.attended and event.signal is None:
                self.signals.append(AttendanceSignal(kind=SignalKind.scheduler_status, at=at, value="attended",
                                                     source=event.appointment.source))
            if stage in (Stage.recovering, Stage.offering, Stage.awaiting_review):
                self.closing = (Stage.attended, "attendance corrected")
            self.wake = True
        elif event.type == EventType.reschedule_requested and stage == Stage.watching:
            self.state.kind = CaseKind.reschedule_request
            self.wake = True
        elif event.type == EventType.failed_access:
            if event.signal is None:
                self.signals.append(AttendanceSignal(kind=SignalKind.technician_report, at=at, value="failed_access",
                                                     source=event.appointment.source))
            self.state.kind = CaseKind.failed_access
            self.wake = True
        elif event.type == EventType.attendance_signal:
            self.wake = True

    def _check_decision(self, decision: ReviewDecision) -> None:
        review = self.state.review
        if self.state.stage != Stage.awaiting_review or review is None:
            raise ValueError(f"case is not awaiting review (stage {self.state.stage.value})")
        if decision.review_id != review.review_id:
            raise ValueError("stale decision: it answers an earlier review request")
        if self.decision is not None:
            raise ValueError("this review was already decided")
        if decision.decision == "edit" and not (decision.mark_attended or decision.segment):
            raise ValueError("an edit must mark the case attended or choose a segment")
        if decision.segment is not None and decision.segment not in {s.value for s in Segment}:
            raise ValueError(f"unknown segment {decision.segment!r}")

    # ------------------------------------------------------------------ stages

    async def _watch(self) -> None:
        if not self.inp.watch:
            return
        while True:
            due = self.appointment.end + timedelta(minutes=self.program.attendance.grace_minutes)
            now = workflow.now()
            if now >= due or self.closing or self._decisive_before_due():
                break
            await self._set_stage(Stage.watching, next_action_at=due)
            await self._wait(due, replies=False, flush=False)
        self._raise_if_closing()

    def _decisive_before_due(self) -> bool:
        # a cancellation or a reschedule request is decisive at once; a no-show report only once the slot has begun
        kinds = {s.kind for s in self.signals}
        if SignalKind.cancellation in kinds or self.state.kind == CaseKind.reschedule_request:
            return True
        return bool(self.signals) and workflow.now() >= self.appointment.start and self.wake

    async def _check(self) -> Verdict:
        await self._set_stage(Stage.checking)
        kind = self.state.kind
        if kind in (CaseKind.admin_override, CaseKind.reschedule_request):
            self.state.verdict = kind.value
            self._ledger("verdict", outcome=kind.value)
            return Verdict.no_show
        evidence: Evidence = await workflow.execute_activity(
            "gather_evidence",
            EvidenceRequest(case_id=self.inp.case_id, contact_key=self.inp.contact_key, appointment=self.appointment,
                            repeat_window_days=self.program.review.repeat_window_days),
            result_type=Evidence,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )
        self.prior_no_shows = evidence.prior_no_shows
        decision = attendance_policy.decide(
            attendance_policy.AttendanceInput(
                appointment=self.appointment,
                signals=[*evidence.signals, *self.signals],
                now=workflow.now(),
                rules=self.program.attendance,
            )
        )
        self.attendance = decision
        self.state.verdict = decision.verdict.value
        self.state.verdict_reasons = decision.reasons
        self._ledger("verdict", outcome=decision.verdict.value, reason="; ".join(decision.reasons)[:500],
                     data={"contact_key": self.inp.contact_key,
                           "appointment_start": self.appointment.start.isoformat()})
        if decision.verdict == Verdict.late_cancel:
            self.state.kind = CaseKind.late_cancel
        if decision.verdict == Verdict.attended:
            await self._finish(Stage.attended, "attended")
        if decision.verdict == Verdict.rescheduled:
            await self._finish(Stage.cancelled, "rescheduled")
        if decision.verdict == Verdict.cancelled:
            self.state.kind = CaseKind.customer_cancel
        if self.state.kind not in self.program.recover_kinds:
            await self._finish(Stage.suppressed, f"policy does not recover {self.state.kind.value}")
        return decision.verdict

    async def _gate(self, verdict: Verdict) -> None:
        attendance = self.attendance
        route = review_policy.route(
            review_policy.ReviewInput(
                kind=self.state.kind,
                appointment=self.appointment,
                rules=self.program.review,
                attendance_needs_review=verdict == Verdict.review,
                attendance_confidence=attendance.confidence if attendance else 1.0,
                attendance_reasons=attendance.reasons if attendance else [],
                prior_no_shows_in_window=self.prior_no_shows,
            )
        )
        if self.state.kind != CaseKind.admin_override and route.needs_review:
            await self._review(route)
        if not self.lean:
            await self._flush_ledger()  # lean: the next activity carries them, or the flush before a wait

    def _route(self, code: str, reason: str) -> review_policy.ReviewRoute:
        """The review this case asks for on its way (a reply, owner approval, an unreachable customer)."""
        rules = self.program.review
        if self.lean:
            return review_policy.route_for(rules, code, reason)
        return review_policy.ReviewRoute(needs_review=True, reasons=[reason], sla_minutes=rules.sla_minutes,
                                         reminder_minutes=list(rules.reminder_minutes),
                                         lapse_action=rules.lapse_action)

    async def _review(self, route: review_policy.ReviewRoute, resume: Stage = Stage.recovering) -> None:
        """Hold all outreach until a reviewer decides; remind, then apply the policy's lapse action. An approval
        goes on at `resume`."""
        reasons, sla_minutes, reminders, lapse = (route.reasons, route.sla_minutes, route.reminder_minutes,
                                                  route.lapse_action)
        self.review_count += 1
        now = workflow.now()
        review_id = f"{self.inp.case_id}-review-{self.review_count}"
        due = now + timedelta(minutes=sla_minutes)
        self.state.review = ReviewRequest(review_id=review_id, reasons=reasons, requested_at=now, due_at=due)
        self.decision = None
        await self._set_stage(Stage.awaiting_review, next_action_at=due)
        notice = ReviewNotice(case_id=self.inp.case_id, review_id=review_id, reasons=reasons, program=self.program.name)
        if self.lean:
            # a case waiting for a human is already a no-show in the reports: the request carries the events
            self._ledger("review_requested", reason="; ".join(reasons)[:500])
            notice.records = self._carry()
        await self._activity("request_review", notice, None)
        if not self.lean:
            self._ledger("review_requested", reason="; ".join(reasons)[:500])
            await self._flush_ledger()  # a case waiting for a human is already a no-show in the reports
        escalated = False
        marks = [now + timedelta(minutes=m) for m in reminders] + [due]
        index = 0
        while self.decision is None:
            self._raise_if_closing()
            await self._handle_replies_during_review()
            if self.decision is not None:
                break
            if index < len(marks) and workflow.now() >= marks[index]:
                index += 1
                if index < len(marks):
                    await self._activity("request_review",
                                         notice.model_copy(update={"reminder": index, "records": self._carry()}),
                                         None)
                    continue
                # SLA lapsed
                if lapse == LapseAction.suppress or (lapse == LapseAction.escalate and escalated):
                    self._ledger("review_decided", data={"decision": "lapsed", "within_sla": False})
                    await self._finish(Stage.suppressed, "review lapsed")
                if lapse == LapseAction.proceed:
                    self._ledger("review_decided", data={"decision": "lapsed_proceed", "within_sla": False})
                    break
                escalated = True
                await self._crm(
                    "escalation", {},
                    owner_task=f"Review overdue for case {self.inp.case_id}: decide or it is suppressed",
                )
                marks.append(workflow.now() + timedelta(minutes=sla_minutes))
                await self._set_stage(Stage.awaiting_review, next_action_at=marks[-1])
                continue
            await self._wait(marks[index] if index < len(marks) else None, replies=True, decision=True)
        decision = self.decision
        self.state.review = None
        if decision is None:
            await self._set_stage(resume)
            return
        within = workflow.now() <= due
        self._ledger("review_decided", data={"decision": decision.decision, "within_sla": within})
        self._note(f"review {decision.decision}")
        if decision.decision == "reject":
            await self._finish(Stage.closed_by_reviewer, "rejected by reviewer")
        if decision.decision == "suppress":
            await self._finish(Stage.suppressed, "suppressed by reviewer")
        if decision.mark_attended:
            await self._finish(Stage.attended, "reviewer marked attended")
        if decision.segment:
            self.state.segment = decision.segment
        await self._set_stage(resume)

    async def _handle_replies_during_review(self) -> None:
        while self.replies:
            reply = self.replies.pop(0)
            understanding = await self._understand(reply)
            if understanding.intent in (ReplyIntent.opt_out, ReplyIntent.opt_in, ReplyIntent.help):
                await self._consent_or_help(reply, understanding)
            elif self.state.review is not None:
                self.state.review.reasons.append(f"customer replied ({understanding.intent.value})")

    async def _recover(self) -> None:
        segment = Segment(self.state.segment) if self.state.segment else sequence_policy.segment_for(
            self.program, self.appointment, self.prior_no_shows
        )
        experiment = self.program.experiment
        first_template: str | None = None
        if experiment is not None:
            arm = experiment.arm(assign_arm(self.inp.case_id, experiment))
            self.state.arm = ledger_arm(experiment.name, arm.name)
            if arm.is_holdout:
                await self._hold_out(sequence_policy.sequence_for(self.program, segment).reply_wait_hours)
            if arm.sequence and arm.sequence in {s.value for s in Segment}:
                segment = Segment(arm.sequence)
            first_template = arm.template_id
        self.state.segment = segment.value
        sequence = sequence_policy.sequence_for(self.program, segment)
        if not self.lean:  # lean: the first step's call below moves the stage, with its due time
            await self._set_stage(Stage.recovering)
        anchor = workflow.now()
        for index, step in enumerate(sequence.steps):
            due = anchor + timedelta(minutes=step.delay_minutes)
            self.state.step = index
            await self._set_stage(Stage.recovering, next_action_at=due)
            while workflow.now() < due:
                await self._wait(due, replies=True)
                self._raise_if_closing()
                if self.replies:
                    await self._converse()
                    return
            template = first_template if index == 0 and first_template else step.template
            await self._send(f"step{index}", template, list(step.channels), first=index == 0, created=due)
            anchor = workflow.now()
        reply_due = workflow.now() + timedelta(hours=sequence.reply_wait_hours)
        await self._set_stage(Stage.recovering, next_action_at=reply_due)
        await self._wait(reply_due, replies=True)
        self._raise_if_closing()
        if self.replies:
            await self._converse()
            return
        await self._finish(Stage.unrecovered, "no reply to the sequence")

    async def _hold_out(self, wait_hours: float) -> None:
        """The experiment's no-contact arm: send nothing, only notice a rebooking the customer makes alone."""
        due = workflow.now() + timedelta(hours=wait_hours)
        await self._set_stage(Stage.recovering, next_action_at=due)
        while workflow.now() < due:
            await self._wait(due, replies=False)
            self._raise_if_closing()
        await self._finish(Stage.unrecovered, "holdout: no contact by design")

    async def _converse(self) -> None:
        """Answer replies until the case books, stops or goes quiet."""
        while True:
            self._raise_if_closing()
            if not self.replies:
                quiet_due = workflow.now() + timedelta(hours=self._reply_wait())
                await self._set_stage(self.state.stage, next_action_at=quiet_due)
                await self._wait(quiet_due, replies=True)
                self._raise_if_closing()
                if not self.replies:
                    await self._finish(Stage.unrecovered, "conversation went quiet")
            reply = self.replies.pop(0)
            understanding = await self._understand(reply)
            intent = understanding.intent
            if intent in (ReplyIntent.opt_out, ReplyIntent.opt_in, ReplyIntent.help):
                await self._consent_or_help(reply, understanding)
                continue
            if intent == ReplyIntent.wrong_person:
                await self._finish_after(
                    "update_crm",
                    self._crm_update("wrong_person", {"risk_flag": "wrong_person"}, note="Recipient says wrong person"),
                    Stage.suppressed, "wrong person",
                )
            if understanding.needs_review or intent in (
                ReplyIntent.dispute, ReplyIntent.question, ReplyIntent.running_late, ReplyIntent.other
            ):
                await self._review(self._route(
                    "dispute" if intent == ReplyIntent.dispute else "reply",
                    f"customer reply needs a human: {intent.value} ({understanding.reason})",
                ))
                if self.replies:
                    continue
                await self._offer_and_book()
                return
            if intent == ReplyIntent.cancel:
                await self._finish(Stage.unrecovered, "customer declined to rebook")
            await self._offer_and_book(first_pick=understanding if intent == ReplyIntent.pick_slot else None)
            return

    async def _offer_and_book(self, first_pick: ReplyUnderstanding | None = None) -> None:
        rules = self.program.rebooking
        ok, why = rebooking_policy.eligible(rules, self.appointment, self.state.reschedules)
        if not ok:
            await self._crm("not_eligible", {"recovery_status": "needs_staff"}, owner_task=f"Rebook by hand: {why}")
            await self._finish(Stage.unrecovered, why)
        if rebooking_policy.needs_owner_approval(rules, self.appointment) and not self.owner_ok:
            self.owner_ok = True
            await self._review(self._route("owner_approval", "owner approval needed before booking (high value)"))
        pick = first_pick if first_pick and self.state.offered else None
        while True:
            self._raise_if_closing()
            if pick is None:
                await self._make_offer()
                pick = await self._await_pick()
            slot = self.state.offered[pick.slot_index or 0]
            result: BookResult = await workflow.execute_activity(
                "book_slot",
                BookRequest(case_id=self.inp.case_id, contact_key=self.inp.contact_key, slot=slot,
                            appointment=self.appointment, attempt=self.offer_attempt,
                            opened_at=workflow.info().start_time),
                result_type=BookResult,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
            )
            if result.booked:
                self.state.new_appointment_id = result.appointment_id
                self.state.new_appointment_start = slot.start
                self.state.reschedules += 1
                await self._after_booking(slot.start, slot.end)
                return
            self._note("slot was taken; offering again")
            pick = None
            self.state.offered = []
            self.slot_taken = True

    async def _make_offer(self) -> None:
        self.offer_attempt += 1
        offer: Offer = await workflow.execute_activity(
            "offer_slots",
            OfferRequest(case_id=self.inp.case_id, attempt=self.offer_attempt, appointment=self.appointment,
                         resolved=common.slim(self.inp.resolved), exclude=list(self.declined)),
            result_type=Offer,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )
        if not offer.slots:
            await self._send(f"offer{self.offer_attempt}", "no_slots", self._channels(), created=workflow.now(),
                             purpose="transactional")
            await self._crm("no_slots", {"recovery_status": "needs_staff"}, owner_task="No open slots: rebook by hand")
            await self._finish(Stage.unrecovered, "no availability")
        self.state.offered = offer.slots
        self.state.booking_link = offer.booking_link
        self._ledger("slot_offered", data={"count": len(offer.slots)})
        template = "slot_taken" if self.slot_taken else "offer_slots"
        self.slot_taken = False
        await self._send(f"offer{self.offer_attempt}", template, self._channels(), created=workflow.now(),
                         extra={"booking_link": offer.booking_link or ""}, purpose="transactional")
        await self._set_stage(Stage.offering, next_action_at=offer.expires_at)

    async def _await_pick(self) -> ReplyUnderstanding:
        while True:
            self._raise_if_closing()
            if self.slot_choice is not None:
                choice, self.slot_choice = self.slot_choice, None
                if choice.slot_index < len(self.state.offered):
                    return ReplyUnderstanding(intent=ReplyIntent.pick_slot, slot_index=choice.slot_index,
                                              confidence=1.0, needs_review=False, reason=f"picked via {choice.via}")
            if self.replies:
                reply = self.replies.pop(0)
                understanding = await self._understand(reply)
                intent = understanding.intent
                if intent in (ReplyIntent.opt_out, ReplyIntent.opt_in, ReplyIntent.help):
                    await self._consent_or_help(reply, understanding)
                    continue
                if intent == ReplyIntent.pick_slot and understanding.slot_index is not None \
                        and not understanding.needs_review:
                    return understanding
                if intent == ReplyIntent.cancel:
                    await self._finish(Stage.unrecovered, "customer declined to rebook")
                if intent == ReplyIntent.wrong_person:
                    await self._finish(Stage.suppressed, "wrong person")
                if intent == ReplyIntent.reschedule and not understanding.needs_review:
                    # none of these fit: offer others, never the ones just declined
                    self.declined.extend(s.start for s in self.state.offered)
                    await self._make_offer()
                    continue
                await self._review(self._route(
                    "dispute" if intent == ReplyIntent.dispute else "reply",
                    f"reply to the offer needs a human: {intent.value} ({understanding.reason})",
                ))
                await self._set_stage(Stage.offering)
                continue
            due = workflow.now() + timedelta(hours=self._reply_wait())
            await self._set_stage(Stage.offering, next_action_at=due)
            await self._wait(due, replies=True, choice=True)
            self._raise_if_closing()
            if not self.replies and self.slot_choice is None:
                await self._workflow_release()
                await self._finish(Stage.unrecovered, "no pick from the offered slots")

    async def _after_booking(self, start: datetime, end: datetime) -> None:
        await self._set_stage(Stage.rebooked)
        when = start.isoformat(timespec="minutes")
        await self._send(f"confirm{self.state.reschedules}", "confirm_booking", self._channels(),
                         created=workflow.now(),
                         extra={"new_appointment_time": when}, purpose="transactional")
        fields: dict[str, str | None] = {
            "outcome": self.state.kind.value, "missed_date": self.inp.appointment.start.date().isoformat(),
            "recovery_status": "rebooked", "next_appointment": when,
        }
        note = f"Rebooked by the recovery engine (case {self.inp.case_id})"
        following = bool(self.program.rebooking.follow_new_appointment and self.state.new_appointment_id)
        if self.lean and not following:
            await self._finish_after("update_crm", self._crm_update("rebooked", fields, note=note), Stage.confirmed,
                                     "rebooked")
        await self._crm("rebooked", fields, note=note)
        if following:
            due = end + timedelta(minutes=self.program.attendance.grace_minutes)
            await self._set_stage(Stage.following, next_action_at=due)
            while workflow.now() < due:
                await self._wait(due, replies=True)
                if self.opt_out:
                    break
                if self.replies and await self._reschedule_booked():
                    return  # the new booking's own follow-up has finished the case
            new_appt = self.appointment.model_copy(
                update={"appointment_id": self.state.new_appointment_id, "start": start, "end": end}
            )
            evidence: Evidence = await workflow.execute_activity(
                "gather_evidence",
                EvidenceRequest(case_id=self.inp.case_id, contact_key=self.inp.contact_key, appointment=new_appt),
                result_type=Evidence,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
            )
            verdict = attendance_policy.decide(
                attendance_policy.AttendanceInput(appointment=new_appt, signals=evidence.signals,
                                                  now=workflow.now(), rules=self.program.attendance)
            ).verdict
            kept = verdict == Verdict.attended
            self._ledger("kept" if kept else "not_kept", outcome=verdict.value)
            self._note(f"new appointment {'kept' if kept else 'not confirmed kept'} ({verdict.value})")
        await self._finish(Stage.confirmed, "rebooked")

    async def _reschedule_booked(self) -> bool:
        """A reply after rebooking: move or cancel the new appointment, within the policy's reschedule cap."""
        reply = self.replies.pop(0)
        understanding = await self._understand(reply)
        intent = understanding.intent
        if intent in (ReplyIntent.opt_out, ReplyIntent.opt_in, ReplyIntent.help):
            await self._consent_or_help(reply, understanding)
            return False
        if intent not in (ReplyIntent.reschedule, ReplyIntent.cancel) or understanding.needs_review:
            self._note(f"reply after booking kept for staff ({intent.value})")
            await self._crm(f"reply{self.reply_count}", {},
                            owner_task=f"Customer wrote after rebooking ({intent.value})")
            return False
        ok, why = rebooking_policy.eligible(self.program.rebooking, self.appointment, self.state.reschedules)
        if intent == ReplyIntent.reschedule and not ok:
            self._note(f"not moved again: {why}")
            await self._crm(f"reply{self.reply_count}", {}, owner_task=f"Customer asks to move again: {why}")
            return False
        await self._activity("cancel_booking", BookRequest(
            case_id=self.inp.case_id, contact_key=self.inp.contact_key,
            slot=self.state.offered[0] if self.state.offered else Slot(
                start=self.state.new_appointment_start or workflow.now(),
                end=self.state.new_appointment_start or workflow.now(), calendar_id=self.appointment.calendar_id),
            appointment=self.appointment.model_copy(update={"appointment_id": self.state.new_appointment_id or ""}),
            attempt=self.offer_attempt), None)
        self._note("new appointment cancelled at the customer's request")
        self.state.new_appointment_id = None
        self.state.new_appointment_start = None
        self.state.offered = []
        if intent == ReplyIntent.cancel:
            await self._finish(Stage.unrecovered, "customer cancelled the new appointment")
        await self._offer_and_book()
        return True

    # ------------------------------------------------------------------ helpers

    def _model_may_classify(self) -> bool:
        """The policy asks for the reply model and the starter did not say the worker has none."""
        return self.program.replies.use_model and self.inp.reply_model is not False

    async def _understand(self, reply: Reply) -> ReplyUnderstanding:
        self.reply_count += 1
        offered = [s.start for s in self.state.offered]
        timezone = self.appointment.contact.timezone or self.program.send.default_timezone
        review_below = self.program.replies.review_below_confidence
        if self.lean and not self._model_may_classify():
            # the rules the activity would run, here: pure, deterministic, no activity to pay for
            opted_out = bool({"*", reply.channel.value} & self.opted_out_channels)
            understanding = reply_policy.understand(reply_policy.ReplyInput(
                text=reply.text, offered=offered, now=reply.received_at, timezone=timezone,
                review_below=review_below, opted_out=opted_out))
            self.pending_ledger.append(LedgerEvent(
                event_id=f"{reply.reply_id}:reply_received", case_id=self.inp.case_id, type="reply_received",
                at=reply.received_at, source="reply", appointment_type="-", channel=reply.channel,
                reason=understanding.intent.value,
            ))
        else:
            understanding = await workflow.execute_activity(
                "understand_reply",
                UnderstandRequest(
                    case_id=self.inp.case_id,
                    contact_key=self.inp.contact_key,
                    reply=reply,
                    offered=offered,
                    timezone=timezone,
                    review_below=review_below,
                    use_model=self.program.replies.use_model,
                ),
                result_type=ReplyUnderstanding,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
            )
        self._note(f"reply understood as {understanding.intent.value}")
        return understanding

    async def _consent_or_help(self, reply: Reply, understanding: ReplyUnderstanding) -> None:
        if understanding.intent == ReplyIntent.help:
            await self._send(f"help{self.reply_count}", HELP_TEMPLATE, [reply.channel], created=workflow.now(),
                             purpose="transactional")
            return
        status: Literal["opted_out", "opted_in"] = \
            "opted_out" if understanding.intent == ReplyIntent.opt_out else "opted_in"
        change = ConsentChange(event_id=reply.reply_id, case_id=self.inp.case_id, contact_key=self.inp.contact_key,
                               appointment=self.appointment, resolved=common.slim(self.inp.resolved), status=status,
                               channel=reply.channel, evidence=reply.text[:500], at=reply.received_at)
        if status == "opted_out":
            await self._finish_after("record_consent", change, Stage.opted_out, "customer opted out")
        change.records = self._carry()
        await self._activity("record_consent", change, None)

    async def _opted_out_mid_send(self) -> None:
        """The pre-send check met an opt-out this case was not told about. Its cause is usually a STOP queued
        behind this send, or signalled a moment after the consent ledger recorded it: answer that first, so the
        customer gets their one confirmation. An opt-out fanned out from another case arrives as `opted_out`
        and needs no answer here; a case that has sent nothing yet met an old opt-out and closes at once."""
        if not self.replies and self.opt_out is None and self.state.messages_sent > 0:
            await self._wait(workflow.now() + OPT_OUT_GRACE, replies=True)
        self._raise_if_closing()
        while self.replies:
            reply = self.replies.pop(0)
            understanding = await self._understand(reply)
            if understanding.intent == ReplyIntent.opt_out:
                await self._consent_or_help(reply, understanding)  # records it, confirms once, closes

    def _channels(self) -> list[Channel]:
        seq = sequence_policy.sequence_for(self.program, Segment(self.state.segment or Segment.first_time.value))
        return list(seq.steps[0].channels)

    def _reply_wait(self) -> float:
        seq = sequence_policy.sequence_for(self.program, Segment(self.state.segment or Segment.first_time.value))
        return seq.reply_wait_hours

    async def _send(self, step: str, template: str, channels: list[Channel], created: datetime,
                    first: bool = False, extra: dict[str, str] | None = None,
                    purpose: Literal["recovery", "transactional"] = "recovery") -> None:
        """Send one logical message; wait through deferrals (quiet hours, caps) without ever dropping it."""
        variables = {
            "slot_list": "\n".join(f"{i + 1}) {s.start.isoformat(timespec='minutes')}"
                                   for i, s in enumerate(self.state.offered)),
            **(extra or {}),
        }
        request = SendRequest(
            message_id=f"{self.inp.case_id}-{step}", case_id=self.inp.case_id, contact_key=self.inp.contact_key,
            appointment=self.appointment, template_id=template, channels=channels,
            resolved=common.slim(self.inp.resolved, None if template == HELP_TEMPLATE else template),
            variables=variables, first_message=first, created_at=created,
            ledger={"segment": self.state.segment, "arm": self.state.arm}, purpose=purpose,
            records=self._carry(),
        )
        while True:
            self._raise_if_closing()
            result: SendResult = await workflow.execute_activity(
                "send_message", request, result_type=SendResult,
                start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
            )
            request.records = []  # written by the first attempt
            if result.opted_out is not None:
                self.opted_out_channels = set(result.opted_out)
            if result.status == "sent":
                self.state.messages_sent += 0 if result.duplicate else 1
                how = " (possibly delivered: not sent again by another channel)" if result.ambiguous else ""
                self._note(f"sent {template} by {result.channel.value if result.channel else '?'}{how}")
                return
            if result.status == "deferred" and result.next_allowed_at is not None:
                self._note(f"deferred {template}: {result.reason}")
                await self._set_stage(self.state.stage, next_action_at=result.next_allowed_at)
                await self._wait(result.next_allowed_at, replies=False)
                continue
            if result.status == "blocked":
                self._note(f"not sent {template}: {result.reason}")
                if "opted out" in result.reason:
                    if workflow.patched(STOP_PATCH):
                        await self._opted_out_mid_send()
                    await self._finish(Stage.opted_out, result.reason)
                if purpose == "recovery":
                    await self._finish(Stage.suppressed, result.reason)
                return
            self._note(f"{result.status} {template}: {result.reason}")
            if (result.status == "failed" and template != HELP_TEMPLATE and not self.unreachable_reviewed
                    and workflow.patched(UNREACHABLE_PATCH)):
                # every approved channel of the step refused it (invalid number, landline ...): a human decides,
                # once per case; an approval goes on with the sequence
                self.unreachable_reviewed = True
                await self._review(self._route("unreachable", f"could not send {template}: {result.reason}"),
                                   resume=self.state.stage)
            return

    def _crm_update(self, step: str, fields: dict[str, str | None], note: str | None = None,
                    owner_task: str | None = None) -> CrmUpdate:
        return CrmUpdate(case_id=self.inp.case_id, step=step, appointment=self.appointment,
                         resolved=common.slim(self.inp.resolved), fields=fields, note=note, owner_task=owner_task)

    async def _crm(self, step: str, fields: dict[str, str | None], note: str | None = None,
                   owner_task: str | None = None) -> None:
        update = self._crm_update(step, fields, note=note, owner_task=owner_task)
        update.records = self._carry()
        await self._activity("update_crm", update, CrmUpdateResult)

    async def _activity(self, name: str, arg: object, result_type: type | None) -> object:
        return await workflow.execute_activity(
            name, arg, result_type=result_type, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY
        )

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
        if self.lean and flush and self.pending_ledger and not ready():
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
        self.state.outcome = why
        raise CaseClosed()

    async def _finish(self, stage: Stage, why: str) -> None:
        self._terminal(stage, why)

    async def _finish_after(self, name: str, request: CrmUpdate | ConsentChange, stage: Stage, why: str) -> None:
        """Close the case after its last side effect. Lean: that activity runs in the close-out, carrying the
        closing ledger events (nothing happens in between, so the order is the same)."""
        if self.lean:
            self.final = (name, request)
        else:
            await self._activity(name, request, None)
        await self._finish(stage, why)

    async def _workflow_release(self) -> None:
        await self._activity("release_holds", self.inp.case_id, None)

    async def _close_out(self) -> None:
        stage = self.state.stage
        self.state.next_action_at = None
        if self.state.offered and stage != Stage.confirmed:
            await self._workflow_release()
        if self.lean:
            self._closing_ledger(stage)  # carried by the CRM write or the final activity below
        if stage == Stage.unrecovered:
            await self._crm("closed", {"outcome": self.state.kind.value, "recovery_status": "unrecovered",
                                       "missed_date": self.inp.appointment.start.date().isoformat()})
        if not self.lean:
            self._closing_ledger(stage)
        elif self.final is not None:
            name, request = self.final
            await self._activity(name, request.model_copy(update={"records": self._carry()}), None)
        await self._flush_ledger()
        await self._set_stage(stage)

    def _closing_ledger(self, stage: Stage) -> None:
        if self.state.outcome == "rescheduled elsewhere":
            # the customer rebooked on their own: a recovery too, and the holdout arm's only kind
            self._ledger("rebooked", value=self.appointment.value, data={"organic": True})
        self._ledger("case_closed", outcome=stage.value, reason=self.state.outcome, value=self.appointment.value)

    def _ledger(self, type_: str, outcome: str | None = None, reason: str | None = None, value: float = 0.0,
                data: dict[str, str | float | int | bool | None] | None = None) -> None:
        appt = self.appointment
        self.ledger_seq += 1
        self.pending_ledger.append(LedgerEvent(
            event_id=f"{self.inp.case_id}:{self.ledger_seq}:{type_}",
            case_id=self.inp.case_id, type=type_, at=workflow.now(), source=appt.source,
            appointment_type=appt.appointment_type, kind=self.state.kind, owner_id=appt.owner_id,
            location_id=appt.location_id, segment=self.state.segment, arm=self.state.arm,
            value=value, outcome=outcome, reason=reason, data=data or {},
        ))

    async def _flush_ledger(self) -> None:
        if self.pending_ledger:
            batch, self.pending_ledger = self.pending_ledger, []
            await self._activity("record_ledger", LedgerBatch(events=batch), None)

    def _carry(self) -> list[LedgerEvent]:
        """Lean: hand the pending ledger events to the activity about to run, which writes them first."""
        if not self.lean or not self.pending_ledger:
            return []
        batch, self.pending_ledger = self.pending_ledger, []
        return batch

    def _note(self, what: str) -> None:
        self.state.timeline.append(TimelineEntry(at=workflow.now(), what=what))
        if len(self.state.timeline) > 100:
            del self.state.timeline[:-100]

    async def _set_stage(self, stage: Stage, next_action_at: datetime | None = None) -> None:
        """The stage in the state (always) and in the search attributes (when that is worth an upsert)."""
        first = self.mark.stage is None
        self.state.stage = stage
        self.state.next_action_at = next_action_at
        if not self.lean:
            if not self.mark.move(stage.value, next_action_at):
                return
        elif first and workflow.info().typed_search_attributes.get(sa.CONTACT_KEY) is not None:
            # the starter set them all (free); upsert only if it showed another stage
            first = False
            self.mark.stage = workflow.info().typed_search_attributes.get(sa.STAGE)
            if not self.mark.move(stage.value, next_action_at, track_next=False):
                return
        elif first:
            # without start attributes the first upsert cannot wait: the opt-out fan-out finds cases by contact key
            self.mark.move(stage.value, next_action_at)
        elif stage in TRANSIENT_STAGES or not self.mark.move(stage.value, next_action_at, track_next=False):
            return
        static: list[SearchAttributeUpdate[Any]] = [
            sa.SOURCE.value_set(self.appointment.source),
            sa.APPOINTMENT_TYPE.value_set(self.appointment.appointment_type),
            sa.CONTACT_KEY.value_set(self.inp.contact_key),
            sa.POLICY_VERSION.value_set(self.inp.resolved.policy_version),
        ] if first else []
        workflow.upsert_search_attributes(common.stage_updates(
            stage.value, next_action_at,
            extra=[sa.NEEDS_REVIEW.value_set(stage == Stage.awaiting_review), sa.KIND.value_set(self.state.kind.value)],
            outcome=stage.value if stage in TERMINAL_STAGES else None, static=static,
        ))
