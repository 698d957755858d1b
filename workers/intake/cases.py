"""Starting and steering cases from canonical events: one case per appointment, whatever arrives in what order.

Shared by the HTTP API and the CLI so both take exactly the same path.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from domain import addresses
from domain.backfill import FreedSlot
from domain.case import CaseInput
from domain.ids import case_id_for, contact_key_for
from domain.intake import EventOutcome, ReplyOutcome
from domain.models import Appointment, AppointmentEvent, CaseKind, EventType, LedgerEvent, Reply
from policies.appointment_types import with_known_type
from policies.loader import resolve
from policies.values import with_default_value
from workers.dependencies import Dependencies
from workers.intake.backfill import offer_freed_slot
from workers.intake.replies import ReplyRouter
from workflows.case import RecoveryCaseWorkflow
from workflows.search_attributes import for_case_start

log = structlog.get_logger(__name__)

KIND_BY_EVENT: dict[EventType, CaseKind] = {
    EventType.booked: CaseKind.no_show,
    EventType.rescheduled: CaseKind.no_show,
    EventType.attended: CaseKind.no_show,
    EventType.attendance_signal: CaseKind.no_show,
    EventType.no_show: CaseKind.no_show,
    EventType.cancelled: CaseKind.customer_cancel,
    EventType.reschedule_requested: CaseKind.reschedule_request,
    EventType.failed_access: CaseKind.failed_access,
    EventType.admin_override: CaseKind.admin_override,
}


# changes to an appointment the audit trail records with the system that reported them
AUDITED_EVENTS = frozenset({EventType.cancelled, EventType.rescheduled, EventType.reschedule_requested,
                            EventType.admin_override})

# how far from now an appointment may be for a case to make sense of it
MAX_PAST = timedelta(days=180)
MAX_FUTURE = timedelta(days=2 * 366)


def _plausible_time(start: datetime, now: datetime) -> bool:
    return now - MAX_PAST <= start <= now + MAX_FUTURE


def freed_slot(event: AppointmentEvent) -> FreedSlot | None:
    """The time an event gives back: a cancelled appointment's, or a moved one's old time. None otherwise (a
    reschedule that only carries the new time, as Cal.com's same-booking reschedule does, frees nothing we know)."""
    appt = event.appointment
    if event.type == EventType.rescheduled:
        if event.new_start is not None and event.new_start == appt.start:
            return None
    elif event.type != EventType.cancelled:
        return None
    if appt.end <= appt.start:
        return None
    return FreedSlot(calendar_id=appt.calendar_id, start=appt.start, end=appt.end, owner_id=appt.owner_id,
                     appointment_type=appt.appointment_type, source=appt.source, location_id=appt.location_id,
                     value=appt.value, freed_by="cancellation")


class CaseService:
    def __init__(self, client: Client, deps: Dependencies) -> None:
        self.client = client
        self.deps = deps
        self.salt = deps.settings.auth.id_salt

    def case_id(self, source: str, appointment_id: str) -> str:
        return case_id_for(source, appointment_id, self.salt)

    def normalised(self, event: AppointmentEvent) -> AppointmentEvent:
        """The event with its contact's addresses in canonical form; addresses.AddressError when one is
        unreadable (the webhook route answers 422 before anything starts)."""
        return addresses.normalise_event(event, self.deps.settings.routing.default_region)

    async def submit_event(self, event: AppointmentEvent) -> EventOutcome:
        # the store's part in one trip off the event loop, then the start itself
        admitted = await asyncio.to_thread(self._admit, event)
        if isinstance(admitted, EventOutcome):
            return admitted
        event, case_input = admitted
        outcome = await self._start_case(event, case_input)
        if outcome.status == "accepted":  # a closed case's event is a late re-delivery: its slot was handled
            outcome.backfill_id = await self.backfill_freed_slot(event)
        return outcome

    def _admit(self, event: AppointmentEvent) -> EventOutcome | tuple[AppointmentEvent, CaseInput]:
        """Everything before the start: the event in canonical form, its booking noted as busy time, its program
        resolved (or the reason it starts nothing), the contact and its addresses remembered."""
        case_id = self.case_id(event.appointment.source, event.appointment.appointment_id)
        try:
            event = self.normalised(event)
        except addresses.AddressError:
            # reached here from reconciliation (webhooks refuse it first): starts nothing, says why
            log.info("event_refused", case_id=case_id, reason="address_unusable")
            return EventOutcome(event_id=event.event_id, case_id=None, status="ignored", reason="address_unusable")
        # free text typed into a provider never travels further than here (search attributes, ledger, metrics)
        event = with_known_type(self.deps.policy(), event)
        appt = event.appointment
        if _plausible_time(appt.start, datetime.now(UTC)):
            # every booking the engine hears of is busy time for offers, holds and bookings, managed or not
            self.deps.calendar.record_event(event)
        resolved, reason = resolve(self.deps.policy(), appt)
        if resolved is not None and not _plausible_time(appt.start, datetime.now(UTC)):
            # a case about year 9999 would wait forever; one about last year can recover nothing
            resolved, reason = None, "appointment_time_out_of_range"
        if resolved is None:
            self.deps.ledger.append(LedgerEvent(
                event_id=f"ignored:{case_id}", case_id=case_id, type="ignored", at=datetime.now(UTC),
                source=appt.source, appointment_type=appt.appointment_type, reason=reason,
            ))
            log.info("event_ignored", case_id=case_id, reason=reason)
            return EventOutcome(event_id=event.event_id, case_id=None, status="ignored", reason=reason)
        valued = with_default_value(resolved.program, appt)
        if valued is not appt:
            event = event.model_copy(update={"appointment": valued})
            appt = valued
        if event.type in AUDITED_EVENTS:
            # who changed the appointment: the source system (a booking page, a phone system, a calendar)
            self.deps.reviews.audit(f"source:{appt.source}", event.type.value, case_id, {"event_id": event.event_id})
        kind = KIND_BY_EVENT[event.type]
        watch = event.type in (EventType.booked, EventType.rescheduled, EventType.attendance_signal)
        case_input = CaseInput(
            case_id=case_id,
            contact_key=contact_key_for(appt.contact.contact_id, self.salt),
            kind=kind,
            appointment=appt,
            resolved=resolved,
            watch=watch or kind == CaseKind.no_show,
            reply_model=self.deps.reply_model is not None,
        )
        self.deps.crm.upsert_contact(appt.contact)
        # before the case exists: a reply (or a STOP) from these addresses finds it even before it has written
        keys = [addresses.address_key(a, self.salt) for a in addresses.contact_addresses(appt.contact)]
        self.deps.addresses.remember(case_id, case_input.contact_key, keys,
                                     appointment=(resolved.program.name, event.new_start or appt.start))
        self.deps.consent.carry_to_booking(case_id, keys)  # an earlier STOP of one of them reaches the others
        return event, case_input

    async def _start_case(self, event: AppointmentEvent, case_input: CaseInput) -> EventOutcome:
        case_id = case_input.case_id
        try:
            handle = await self.client.start_workflow(
                RecoveryCaseWorkflow.run,
                case_input,
                id=case_id,
                task_queue=self.deps.settings.temporal.task_queue,
                start_signal="appointment_event",
                start_signal_args=[event],
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=for_case_start(case_input),  # free at start; each upsert is a billed action
            )
        except WorkflowAlreadyStartedError:
            log.info("event_for_closed_case", case_id=case_id, event_type=event.type.value)
            return EventOutcome(event_id=event.event_id, case_id=case_id, status="case_closed")
        log.info("event_accepted", case_id=case_id, event_type=event.type.value, run_id=handle.result_run_id)
        return EventOutcome(event_id=event.event_id, case_id=case_id, status="accepted")

    async def backfill_freed_slot(self, event: AppointmentEvent) -> str | None:
        """A cancellation (or a move to another time) frees the original slot ahead of time: offer it to the
        waitlist. Returns the backfill id, or None when the slot is not backfilled (policy, timing, nobody can
        take it). Never fails the event: the case has already started, and a backfill is a bonus."""
        freed = freed_slot(event)
        if freed is None:
            return None
        self._mark_cancelled(event.appointment)
        return await offer_freed_slot(self.client, self.deps, freed)

    def _mark_cancelled(self, appt: Appointment) -> None:
        """The engine's calendar (local, or the local mirror of a provider's) may hold this booking: mark it
        cancelled so the freed time shows as available to the backfill's hold."""
        calendar = self.deps.calendar
        if calendar.appointment(appt.appointment_id) is not None:
            calendar.set_status(appt.appointment_id, "cancelled")

    async def submit_reply(self, reply: Reply, sender: str | None, case_id: str | None = None,
                           stopped_at_edge: bool | None = None) -> ReplyOutcome:
        """A customer's message, routed to its case (see workers/intake/replies.py)."""
        return await ReplyRouter(self.client, self.deps).submit(reply, sender, case_id, stopped_at_edge)

    def handle(self, case_id: str) -> WorkflowHandle[RecoveryCaseWorkflow, object]:
        return self.client.get_workflow_handle_for(RecoveryCaseWorkflow.run, case_id)  # type: ignore[arg-type]
