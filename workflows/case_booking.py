"""Offer and booking: open slots offered and held, the customer's pick booked (a taken slot offers again), the
booking confirmed and written to the CRM, then the new appointment followed until it has happened: kept
(`confirmed`) or not (`rebooked_missed`), moved or cancelled again within the policy's cap.

Passed through the sandbox like every case module: see workflows/case_base.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

import workflows.common as common
from activities.attendance import AttendanceActivities
from activities.crm import CrmActivities
from activities.scheduling import SchedulingActivities
from domain.case import BookRequest, EvidenceRequest, Offer, OfferRequest
from domain.models import Appointment, ReplyIntent, ReplyUnderstanding, Slot, Stage, Verdict
from policies import attendance as attendance_policy
from policies import rebooking as rebooking_policy
from policies import sequences as sequence_policy
from policies import watch as watch_policy
from workflows.case_review import ReviewSteps
from workflows.case_versions import FOLLOW_REMINDERS_PATCH, OFFER_EXPIRY_PATCH, REBOOKED_MISSED_PATCH

CLOSEST_TEMPLATE = "offer_closest"  # nothing fits the request: the closest times, or a human


class BookingSteps(ReviewSteps):
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
                if not (self.state.offered and self.slot_choice is not None):
                    await self._make_offer()
                pick = await self._await_pick()
            slot = self.state.offered[pick.slot_index or 0]
            result = await common.run_activity(SchedulingActivities.book_slot, BookRequest(
                case_id=self.inp.case_id, contact_key=self.inp.contact_key, slot=slot, appointment=self.appointment,
                attempt=self.offer_attempt, opened_at=workflow.info().start_time))
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
        offer = await self._hold_offer()
        template = "slot_taken" if self.slot_taken else "offer_slots"
        if not offer.matches_request and self._has_template(CLOSEST_TEMPLATE):
            template = CLOSEST_TEMPLATE  # says plainly that nothing fits what was asked, and offers a human
        self.slot_taken = False
        await self._send(f"offer{self.offer_attempt}", template, self._channels(), created=workflow.now(),
                         extra=self._offer_variables(), purpose="transactional")
        await self._set_stage(Stage.offering, next_action_at=offer.expires_at)

    def _offer_variables(self) -> dict[str, str]:
        expires = self.state.offer_expires_at
        return {"booking_link": self.state.booking_link or "",
                "offer_expires": expires.isoformat(timespec="minutes") if expires else ""}

    async def _hold_offer(self) -> Offer:
        """Hold open slots and sign their link; no message (the caller sends the one that shows them)."""
        self.offer_attempt += 1
        offer = await common.run_activity(SchedulingActivities.offer_slots, OfferRequest(
            case_id=self.inp.case_id, attempt=self.offer_attempt, appointment=self.appointment,
            resolved=common.slim(self.inp.resolved), exclude=list(self.declined), preference=self.preference))
        if not offer.slots:
            await self._send(f"offer{self.offer_attempt}", "no_slots", self._channels(), created=workflow.now(),
                             purpose="transactional")
            await self._crm("no_slots", {"recovery_status": "needs_staff"}, owner_task="No open slots: rebook by hand")
            await self._finish(Stage.unrecovered, "no availability")
        self.state.offered = offer.slots
        self.state.booking_link = offer.booking_link
        self.state.offer_expires_at = offer.expires_at
        self.state.reader_timezone = self._reader_timezone()
        self.state.reader_locale = self.appointment.contact.locale
        self._ledger("slot_offered", data={"count": len(offer.slots)})
        return offer

    def _has_template(self, template_id: str) -> bool:
        return any(t.id == template_id and t.approved for t in self.inp.resolved.templates)

    async def _await_pick(self) -> ReplyUnderstanding:
        while True:
            self._raise_if_closing()
            if self.slot_choice is not None:
                choice, self.slot_choice = self.slot_choice, None
                if choice.slot_index < len(self.state.offered):
                    return ReplyUnderstanding(intent=ReplyIntent.pick_slot, slot_index=choice.slot_index,
                                              confidence=1.0, needs_review=False, reason=f"picked via {choice.via}")
            if self.replies:
                understanding = await self._next_reply()
                if understanding is None:
                    continue
                intent = understanding.intent
                if intent == ReplyIntent.pick_slot and understanding.slot_index is not None \
                        and not understanding.needs_review:
                    if self.last_reply_at is not None and not rebooking_policy.offer_open(
                            self.state.offer_expires_at, self.last_reply_at) and workflow.patched(OFFER_EXPIRY_PATCH):
                        # the same rule as the link: these times are no longer held, offer the current ones
                        self._note("pick after the offer expired; offering again")
                        await self._make_offer()
                        continue
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
        if not following:
            # the CRM write is the case's last side effect (lean: run in the close-out, with the closing events)
            await self._finish_after(CrmActivities.update_crm, self._crm_update("rebooked", fields, note=note),
                                     Stage.confirmed, "rebooked")
        await self._crm("rebooked", fields, note=note)
        # follow the new appointment until it has happened (replies meanwhile may move or cancel it)
        due = end + timedelta(minutes=self.program.attendance.grace_minutes)
        await self._set_stage(Stage.following, next_action_at=due)
        new_appt = self.appointment.model_copy(
            update={"appointment_id": self.state.new_appointment_id, "start": start, "end": end})
        reminders = self._follow_reminders(new_appt) if workflow.patched(FOLLOW_REMINDERS_PATCH) else []
        while workflow.now() < due:
            if reminders and reminders[0].at <= workflow.now():
                await self._follow_remind(reminders.pop(0), new_appt)
                continue
            await self._wait(min([due, *(m.at for m in reminders[:1])]), replies=True)
            if self.opt_out:
                break
            if self.replies and await self._reschedule_booked():
                return  # the new booking's own follow-up has finished the case
        if not await self._new_appointment_kept(start, end) and workflow.patched(REBOOKED_MISSED_PATCH):
            await self._finish(Stage.rebooked_missed, "rebooked, and the new appointment was not kept")
        await self._finish(Stage.confirmed, "rebooked")

    def _follow_reminders(self, new_appt: Appointment) -> list[watch_policy.PlannedMessage]:
        """The program's reminders for the new appointment (its confirmation was the booking's own message)."""
        segment = sequence_policy.segment_for(self.program, new_appt, 0)
        planned = watch_policy.plan(self.program, new_appt, segment, workflow.now())
        return [m for m in planned if m.kind == "reminder"]

    async def _follow_remind(self, message: watch_policy.PlannedMessage, new_appt: Appointment) -> None:
        # the reminder speaks of the new time: the send reads the case's appointment, so it is the new one meanwhile
        missed, self.appointment = self.appointment, new_appt
        ttl = timedelta(hours=self.program.send.message_ttl_hours)
        try:
            await self._send(f"follow-{message.key}-r{self.state.reschedules}", message.template, message.channels,
                             created=min(message.at, new_appt.start - ttl), purpose="reminder")
        finally:
            self.appointment = missed
        self.state.reminders_sent += 1
        self._ledger("watch_sent", reason="follow_reminder")

    async def _new_appointment_kept(self, start: datetime, end: datetime) -> bool:
        new_appt = self.appointment.model_copy(
            update={"appointment_id": self.state.new_appointment_id, "start": start, "end": end}
        )
        evidence = await common.run_activity(AttendanceActivities.gather_evidence, EvidenceRequest(
            case_id=self.inp.case_id, contact_key=self.inp.contact_key, appointment=new_appt))
        verdict = attendance_policy.decide(
            attendance_policy.AttendanceInput(appointment=new_appt, signals=evidence.signals,
                                              now=workflow.now(), rules=self.program.attendance)
        ).verdict
        kept = verdict == Verdict.attended
        self._ledger("kept" if kept else "not_kept", outcome=verdict.value)
        self._note(f"new appointment {'kept' if kept else 'not confirmed kept'} ({verdict.value})")
        return kept

    async def _reschedule_booked(self) -> bool:
        """A reply after rebooking: move or cancel the new appointment, within the policy's reschedule cap."""
        understanding = await self._next_reply()
        if understanding is None:
            return False
        intent = understanding.intent
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
        await common.run_activity(SchedulingActivities.cancel_booking, BookRequest(
            case_id=self.inp.case_id, contact_key=self.inp.contact_key,
            slot=self.state.offered[0] if self.state.offered else Slot(
                start=self.state.new_appointment_start or workflow.now(),
                end=self.state.new_appointment_start or workflow.now(), calendar_id=self.appointment.calendar_id),
            appointment=self.appointment.model_copy(update={"appointment_id": self.state.new_appointment_id or ""}),
            attempt=self.offer_attempt))
        self._note("new appointment cancelled at the customer's request")
        self.state.new_appointment_id = None
        self.state.new_appointment_start = None
        self.state.offered = []
        if intent == ReplyIntent.cancel:
            await self._finish(Stage.unrecovered, "customer cancelled the new appointment")
        await self._offer_and_book()
        return True
