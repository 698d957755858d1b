"""Watching a booking and checking attendance: appointment events as they arrive (cancelled, moved, no-show,
attended ...), the wait until the appointment's end plus the grace period, then the verdict from the evidence
and the signals, which decides whether the case closes, is suppressed or goes on to recovery.

Passed through the sandbox like every case module: see workflows/case_base.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from temporalio import workflow

import workflows.common as common
from activities.alerts import AlertActivities
from activities.attendance import AttendanceActivities
from activities.source_tasks import SourceTaskActivities
from domain.case import AdminCommand, AdminResult, AuditEntry, EvidenceRequest, OwnerAlert, SourceTaskRequest
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
    Stage,
    Verdict,
)
from policies import attendance as attendance_policy
from policies import sequences as sequence_policy
from policies import source_tasks
from policies import watch as watch_policy
from policies.schema import Segment
from policies.watch_replies import WatchIntent, watch_intent
from workflows.case_base import CaseBase
from workflows.case_versions import (
    BUSINESS_CANCEL_PATCH,
    OPT_OUT_ENDS_WATCH_PATCH,
    OWNER_ALERTS_PATCH,
    SOURCE_TASK_PATCH,
    WATCH_PATCH,
)

POSITIVE_ATTENDANCE = frozenset({"attended", "completed", "showed", "arrived", "checked_in"})


# where a person may change a case by hand, per action (a rebooked case follows its new appointment instead)
ADMIN_STAGES: dict[str, frozenset[Stage]] = {
    "cancel": frozenset({Stage.watching, Stage.awaiting_review, Stage.recovering, Stage.offering}),
    "override": frozenset({Stage.watching}),
    "mark_no_show": frozenset({Stage.watching}),
    "mark_attended": frozenset({Stage.watching, Stage.awaiting_review, Stage.recovering, Stage.offering}),
}
REPLY_TO_WATCH = {ReplyIntent.cancel: WatchIntent.cancel, ReplyIntent.reschedule: WatchIntent.reschedule,
                  ReplyIntent.pick_slot: WatchIntent.reschedule}


class WatchSteps(CaseBase):

    # ------------------------------------------------------------------ a person changing the case by hand

    def _check_admin(self, command: AdminCommand) -> None:
        stage = self.state.stage
        if stage not in ADMIN_STAGES[command.action]:
            raise ValueError(f"{command.action} is not possible while the case is {stage.value}")
        if command.command_id in self.seen_ids:
            raise ValueError("this command was already applied")

    def _on_admin(self, command: AdminCommand) -> AdminResult:
        self.seen_ids.add(command.command_id)
        now = workflow.now()
        stage = self.state.stage
        action = command.action
        self._note(f"admin {action}")
        self._ledger("admin_command", reason=action)
        if action == "cancel":
            self.closing = (Stage.cancelled, "cancelled by staff")
        elif action == "override":
            self.state.kind = CaseKind.admin_override
        elif action == "mark_no_show":
            self.signals.append(AttendanceSignal(kind=SignalKind.owner_confirmation, at=now, value="no_show",
                                                 source="admin"))
        elif stage == Stage.watching:
            self.signals.append(AttendanceSignal(kind=SignalKind.owner_confirmation, at=now, value="attended",
                                                 source="admin"))
        else:
            self.closing = (Stage.attended, "marked attended by staff")
        self.wake = True
        return AdminResult(accepted=True, stage=stage, detail=f"{action} applied")

    # ------------------------------------------------------------------ events
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
        # only a booking still ahead has anything to confirm or remind (cases before the patch: a silent timer)
        listening = self.appointment.start > workflow.now() and workflow.patched(WATCH_PATCH)
        planned: list[watch_policy.PlannedMessage] = []
        planned_for: datetime | None = None
        moves = 0
        while True:
            due = self.appointment.end + timedelta(minutes=self.program.attendance.grace_minutes)
            now = workflow.now()
            if now >= due or self.closing or self._decisive_before_due():
                break
            if self.opt_out is not None and workflow.patched(OPT_OUT_ENDS_WATCH_PATCH):
                break
            if listening:
                if self.replies:
                    await self._watch_replies()
                    continue
                if planned_for != self.appointment.start:
                    # booked, or moved: plan this time's messages (a move reminds again, under new ids)
                    moves += 1 if planned_for is not None else 0
                    planned_for = self.appointment.start
                    planned = watch_policy.plan(self.program, self.appointment, self._watch_segment(), now)
                    if moves:
                        planned = [m.model_copy(update={"key": f"{m.key}-m{moves}"}) for m in planned
                                   if m.kind == "reminder"]
                if planned and planned[0].at <= now:
                    await self._watch_send(planned.pop(0))
                    continue
            wake_at = min([due, *(m.at for m in planned[:1])])
            await self._set_stage(Stage.watching, next_action_at=due)
            await self._wait(wake_at, replies=listening, flush=False)
        self._raise_if_closing()

    def _watch_segment(self) -> Segment:
        # prior no-shows are not known before the attendance check: value decides here
        return sequence_policy.segment_for(self.program, self.appointment, 0)

    async def _watch_send(self, message: watch_policy.PlannedMessage) -> None:
        before = self.state.messages_sent
        # a reminder is worth nothing once the appointment has begun: it expires at the start, however long a
        # window or cap holds it
        ttl = timedelta(hours=self.program.send.message_ttl_hours)
        await self._send(f"watch-{message.key}", message.template, message.channels,
                         created=min(message.at, self.appointment.start - ttl), first=self.state.messages_sent == 0,
                         purpose="reminder")
        if self.state.messages_sent > before:
            if message.kind == "reminder":
                self.state.reminders_sent += 1
            if self.state.confirmation == "none":
                self.state.confirmation = "sent"
            self._ledger("watch_sent", reason=message.kind)

    async def _watch_replies(self) -> None:
        """Replies while the appointment is ahead: C / confirm, R / reschedule, a cancellation; STOP and HELP
        answered as anywhere; anything else goes to staff."""
        while self.replies and not self.closing:
            reply = self.replies[0]
            intent = watch_intent(reply.text)
            if intent is None:
                understanding = await self._next_reply()
                if understanding is None:
                    continue
                intent = REPLY_TO_WATCH.get(understanding.intent) if not understanding.needs_review else None
                if intent is None:
                    await self._crm(f"watch-reply{self.reply_count}", {},
                                    owner_task="Customer wrote before the appointment: read and answer")
                    continue
            else:
                self.replies.pop(0)
                self.reply_count += 1
                self.pending_ledger.append(LedgerEvent(
                    event_id=f"{reply.reply_id}:reply_received", case_id=self.inp.case_id, type="reply_received",
                    at=reply.received_at, source="reply", appointment_type="-", channel=reply.channel,
                    reason=intent.value, program=self.program.name,
                ))
            await self._watch_intent(intent, reply)

    async def _watch_intent(self, intent: WatchIntent, reply: Reply) -> None:
        actor = f"customer:{reply.channel.value}"
        self._note(f"reply while watching: {intent.value}")
        if intent == WatchIntent.confirm:
            if self.state.confirmation != "confirmed":
                self.state.confirmation = "confirmed"
                self.state.confirmed_at = reply.received_at
                self._ledger("watch_confirmed")
                await self._crm("watch-confirmed", {"recovery_status": "confirmed"},
                                note=f"Customer confirmed the appointment by {reply.channel.value}")
            return
        if intent == WatchIntent.cancel:
            self.signals.append(AttendanceSignal(kind=SignalKind.cancellation, at=reply.received_at,
                                                 source=self.appointment.source))
            self.state.kind = CaseKind.customer_cancel
            self.state.confirmation = "cancelled"
        else:
            self.state.kind = CaseKind.reschedule_request
            self.state.confirmation = "reschedule"
        await common.run_activity(AlertActivities.record_audit, AuditEntry(
            actor=actor, action=f"reply_{intent.value}", case_id=self.inp.case_id,
            detail={"reply_id": reply.reply_id}, audit_key=f"{reply.reply_id}:audit"))
        self.wake = True

    async def _alert_owner(self, kind: Literal["cancellation", "high_value_miss", "exception"], summary: str
                           ) -> None:
        await common.run_activity(AlertActivities.alert_owner, OwnerAlert(
            alert_id=f"{self.inp.case_id}-alert-{kind}", case_id=self.inp.case_id, owner_id=self.appointment.owner_id,
            program=self.program.name, kind=kind,
            summary=summary, value=self.appointment.value, ledger_events=self._carry()))

    def _decisive_before_due(self) -> bool:
        # a cancellation or a reschedule request is decisive at once; a no-show report only once the slot has begun
        kinds = {s.kind for s in self.signals}
        if SignalKind.cancellation in kinds or self.state.kind in (CaseKind.reschedule_request,
                                                                   CaseKind.admin_override):
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
        attendance_input = attendance_policy.AttendanceInput(
            appointment=self.appointment,
            signals=[*evidence.signals, *self.signals],
            now=workflow.now(),
            rules=self.program.attendance,
        )
        decision = attendance_policy.decide(attendance_input)
        confirmed = self.state.confirmation == "confirmed"
        if confirmed and decision.verdict in (Verdict.no_show, Verdict.review):
            decision = decision.model_copy(update={"reasons": [*decision.reasons, "the customer had confirmed"]})
            segment = sequence_policy.segment_for(self.program, self.appointment, self.prior_no_shows, confirmed=True)
            if segment == Segment.confirmed_missed:
                self.state.segment = segment.value
        self.attendance = decision
        self.state.verdict = decision.verdict.value
        self.state.verdict_reasons = decision.reasons
        data: dict[str, str | float | int | bool | None] = {
            "contact_key": self.inp.contact_key, "appointment_start": self.appointment.start.isoformat()}
        if self.state.confirmation != "none":
            data.update(confirmation=self.state.confirmation, reminders=self.state.reminders_sent)
        self._ledger("verdict", outcome=decision.verdict.value, reason="; ".join(decision.reasons)[:500], data=data)
        await self._alert_for(decision.verdict)
        if decision.verdict == Verdict.late_cancel:
            self.state.kind = CaseKind.late_cancel
        if decision.verdict == Verdict.attended:
            await self._finish(Stage.attended, "attended")
        if decision.verdict == Verdict.rescheduled:
            await self._finish(Stage.cancelled, "rescheduled")
        if decision.verdict == Verdict.cancelled:
            kind = attendance_policy.cancelled_kind(attendance_input)
            if kind == CaseKind.business_cancel and not workflow.patched(BUSINESS_CANCEL_PATCH):
                kind = CaseKind.customer_cancel  # cases decided before the patch keep the words they had
            self.state.kind = kind
        if self.state.kind not in self.program.recover_kinds:
            await self._finish(Stage.suppressed, f"policy does not recover {self.state.kind.value}")
        if decision.verdict in (Verdict.no_show, Verdict.late_cancel) \
                and source_tasks.opens_source_task(self.appointment.source, self.state.kind) \
                and workflow.patched(SOURCE_TASK_PATCH):
            # the office's own system gets the job to rebook (when its settings ask), whatever the case does next
            await common.run_activity(SourceTaskActivities.open_source_reschedule_task, SourceTaskRequest(
                case_id=self.inp.case_id, source=self.appointment.source,
                appointment_id=self.appointment.appointment_id, kind=self.state.kind))
        return decision.verdict

    async def _alert_for(self, verdict: Verdict) -> None:
        """The owner hears of a cancellation or a high-value miss at once, not in tomorrow's report."""
        cancelled = verdict in (Verdict.cancelled, Verdict.late_cancel)
        threshold = self.program.review.high_value_threshold
        high_value = verdict == Verdict.no_show and threshold is not None and self.appointment.value >= threshold
        if not (cancelled or high_value) or not workflow.patched(OWNER_ALERTS_PATCH):
            return
        if cancelled:
            await self._alert_owner("cancellation", f"{self.appointment.appointment_type} cancelled "
                                    f"({verdict.value}, starts {self.appointment.start.isoformat(timespec='minutes')})")
        else:
            await self._alert_owner("high_value_miss", f"high-value {self.appointment.appointment_type} missed "
                                    f"(value {self.appointment.value:g} {self.appointment.currency})")

    # ------------------------------------------------------------------ defined by the stages the case is built of

    async def _send(self, step: str, template: str, channels: list[Channel], created: datetime,
                    first: bool = False, extra: dict[str, str] | None = None,
                    purpose: Literal["recovery", "transactional", "reminder"] = "recovery") -> None:
        """Send one logical message (SendingSteps)."""
        raise NotImplementedError

    async def _next_reply(self) -> ReplyUnderstanding | None:
        """Take and understand the next reply, answering STOP and HELP (ConversationSteps)."""
        raise NotImplementedError
