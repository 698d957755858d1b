"""Handing events found by reconciliation to their cases: the same path webhook events take.

The submitter (the intake's CaseService) is injected, so this module knows nothing of the API or the worker."""

from __future__ import annotations

from typing import Protocol

import structlog
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.intake import EventOutcome
from domain.models import AppointmentEvent
from domain.reconcile import DeliverEvents, NeedsReview, SubmittedEvents

log = structlog.get_logger(__name__)



class EventSubmitter(Protocol):
    """CaseService's part that delivery uses."""

    client: Client

    async def submit_event(self, event: AppointmentEvent) -> EventOutcome: ...

    def case_id(self, source: str, appointment_id: str) -> str: ...


class TaskSink(Protocol):
    """Where a human is asked to look (the CRM's task list, as for replies nobody can route)."""

    def create_task(self, owner_id: str | None, title: str, idempotency_key: str) -> None: ...


class CaseEventActivities:
    """Found events go through CaseService.submit_event, exactly like webhook events.

    Idempotent: case ids derive from (source, appointment id) and reconcile event ids from the appointment and the
    change, so a retried batch signals the same case with event ids it has already seen (the case ignores them).

    Events whose contact is unknown (`req.unresolved`) reach only a case that already exists; without one, and for
    `req.needs_review`, a task asks a human (one per appointment: the idempotency key is the appointment) and no case
    starts. Without `tasks` those are only logged.
    """

    def __init__(self, cases: EventSubmitter, tasks: TaskSink | None = None) -> None:
        self.cases = cases
        self.tasks = tasks

    @activity.defn(name="deliver_appointment_events")
    async def deliver_appointment_events(self, req: DeliverEvents) -> SubmittedEvents:
        report = SubmittedEvents(source=req.source)
        for event in req.events:
            reason = req.unresolved.get(event.event_id)
            if reason is not None and not await self._case_exists(event):
                appt = event.appointment
                self._ask_a_human(NeedsReview(source=appt.source, appointment_id=appt.appointment_id,
                                              owner_id=appt.owner_id, event_type=event.type, reason=reason))
                report.outcomes.append(EventOutcome(event_id=event.event_id, case_id=None, status="ignored",
                                                    reason="no_reachable_contact"))
                report.reviews.append(appt.appointment_id)
                continue
            report.outcomes.append(await self.cases.submit_event(event))
        for item in req.needs_review:
            self._ask_a_human(item)
            report.reviews.append(item.appointment_id)
        return report

    async def _case_exists(self, event: AppointmentEvent) -> bool:

        case_id = self.cases.case_id(event.appointment.source, event.appointment.appointment_id)
        try:
            await self.cases.client.get_workflow_handle(case_id).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    def _ask_a_human(self, item: NeedsReview) -> None:
        # ids only: the appointment id is the provider's record id, never contact data
        log.info("reconcile_needs_review", source=item.source, appointment_id=item.appointment_id,
                 reason=item.reason)
        if self.tasks is not None:
            self.tasks.create_task(
                item.owner_id,
                f"{item.source} appointment {item.appointment_id} was not started as a case: {item.reason}. "
                f"Add a reachable contact in {item.source}, or handle it by hand.",
                f"reconcile-review-{item.source}-{item.appointment_id}")
