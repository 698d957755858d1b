"""Watching a booking and checking attendance: appointment events as they arrive (cancelled, moved, no-show,
attended ...), the wait until the appointment's end plus the grace period, then the verdict from the evidence
and the signals, which decides whether the case closes, is suppressed or goes on to recovery.

Passed through the sandbox like every case module: see workflows/case_base.py.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

import workflows.common as common
from activities.attendance import AttendanceActivities
from domain.case import EvidenceRequest
from domain.models import (
    TERMINAL_STAGES,
    AppointmentEvent,
    AttendanceSignal,
    CaseKind,
    EventType,
    SignalKind,
    Stage,
    Verdict,
)
from policies import attendance as attendance_policy
from workflows.case_base import CaseBase
from workflows.case_versions import OPT_OUT_ENDS_WATCH_PATCH

POSITIVE_ATTENDANCE = frozenset({"attended", "completed", "showed", "arrived", "checked_in"})


class WatchSteps(CaseBase):
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

    async def _watch(self) -> None:
        if not self.inp.watch:
            return
        while True:
            due = self.appointment.end + timedelta(minutes=self.program.attendance.grace_minutes)
            now = workflow.now()
            if now >= due or self.closing or self._decisive_before_due():
                break
            if self.opt_out is not None and workflow.patched(OPT_OUT_ENDS_WATCH_PATCH):
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
        evidence = await common.run_activity(AttendanceActivities.gather_evidence, EvidenceRequest(
            case_id=self.inp.case_id, contact_key=self.inp.contact_key, appointment=self.appointment,
            repeat_window_days=self.program.review.repeat_window_days))
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
