"""Starting and steering cases from canonical events: one case per appointment, whatever arrives in what order.

Shared by the HTTP API and the CLI so both take exactly the same path.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import structlog
from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from activities.messaging import stop_open_cases
from domain.case import CaseInput
from domain.ids import case_id_for, contact_key_for
from domain.models import AppointmentEvent, CaseKind, EventType, LedgerEvent, Reply, ReplyIntent
from policies import replies as reply_policy
from policies.loader import resolve
from workers.dependencies import Dependencies
from workflows.case import RecoveryCaseWorkflow

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


class EventOutcome(BaseModel):
    event_id: str
    case_id: str | None
    status: Literal["accepted", "ignored", "case_closed"]
    reason: str | None = None


class ReplyOutcome(BaseModel):
    reply_id: str
    case_id: str | None
    routed: Literal["case", "unknown_sender", "closed_case"]
    opted_out: bool = False


class CaseService:
    def __init__(self, client: Client, deps: Dependencies) -> None:
        self.client = client
        self.deps = deps
        self.salt = deps.settings.id_salt

    def case_id(self, source: str, appointment_id: str) -> str:
        return case_id_for(source, appointment_id, self.salt)

    async def submit_event(self, event: AppointmentEvent) -> EventOutcome:
        appt = event.appointment
        case_id = self.case_id(appt.source, appt.appointment_id)
        resolved, reason = resolve(self.deps.policy(), appt)
        if resolved is None:
            self.deps.ledger.append(LedgerEvent(
                event_id=f"ignored:{case_id}", case_id=case_id, type="ignored", at=datetime.now(UTC),
                source=appt.source, appointment_type=appt.appointment_type, reason=reason,
            ))
            log.info("event_ignored", case_id=case_id, reason=reason)
            return EventOutcome(event_id=event.event_id, case_id=None, status="ignored", reason=reason)
        kind = KIND_BY_EVENT[event.type]
        watch = event.type in (EventType.booked, EventType.rescheduled, EventType.attendance_signal)
        case_input = CaseInput(
            case_id=case_id,
            contact_key=contact_key_for(appt.contact.contact_id, self.salt),
            kind=kind,
            appointment=appt,
            resolved=resolved,
            watch=watch or kind == CaseKind.no_show,
        )
        self.deps.crm.upsert_contact(appt.contact)
        try:
            handle = await self.client.start_workflow(
                RecoveryCaseWorkflow.run,
                case_input,
                id=case_id,
                task_queue=self.deps.settings.task_queue,
                start_signal="appointment_event",
                start_signal_args=[event],
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            log.info("event_for_closed_case", case_id=case_id, event_type=event.type.value)
            return EventOutcome(event_id=event.event_id, case_id=case_id, status="case_closed")
        log.info("event_accepted", case_id=case_id, event_type=event.type.value, run_id=handle.result_run_id)
        return EventOutcome(event_id=event.event_id, case_id=case_id, status="accepted")

    async def is_open(self, case_id: str) -> bool:
        try:
            desc = await self.client.get_workflow_handle(case_id).describe()
        except RPCError:
            return False
        return desc.status is not None and desc.status.name == "RUNNING"

    async def submit_reply(self, reply: Reply, sender: str | None, case_id: str | None = None) -> ReplyOutcome:
        """Route a customer's message to its case; record it whatever happens; honour opt-outs at once."""
        outbox = self.deps.outbox
        routed_case = case_id or (outbox.case_for_recipient(sender) if sender else None)
        contact_key = self._contact_key_for_case(routed_case) if routed_case else None
        understanding = reply_policy.understand(reply_policy.ReplyInput(text=reply.text, now=reply.received_at))
        opted_out = understanding.intent == ReplyIntent.opt_out
        if opted_out and contact_key:
            # suppression takes effect before any workflow runs: the pre-send check reads this ledger
            self.deps.consent.record(reply.reply_id, contact_key, "opted_out", evidence=reply.text[:500],
                                     evidence_channel=reply.channel.value, at=reply.received_at)
            await stop_open_cases(self.client, contact_key, reply.reply_id, except_case=routed_case)
        routed: Literal["case", "unknown_sender", "closed_case"]
        if routed_case is None:
            routed = "unknown_sender"
        elif await self.is_open(routed_case):
            routed = "case"
            await self.client.get_workflow_handle(routed_case).signal("customer_reply", reply)
        else:
            routed = "closed_case"
        self._record_inbound(reply, routed_case, routed)
        if routed != "case":
            self.deps.crm.create_task(None, f"Reply needs a human ({routed}, intent {understanding.intent.value})",
                                      f"inbound-{reply.reply_id}")
        log.info("reply_routed", case_id=routed_case, routed=routed, intent=understanding.intent.value)
        return ReplyOutcome(reply_id=reply.reply_id, case_id=routed_case, routed=routed, opted_out=opted_out)

    def _contact_key_for_case(self, case_id: str) -> str | None:
        with self.deps.db.connect() as conn:
            row = conn.execute(
                "SELECT contact_key FROM outbox WHERE case_id = ? AND contact_key IS NOT NULL LIMIT 1", (case_id,)
            ).fetchone()
        return str(row[0]) if row else None

    def _record_inbound(self, reply: Reply, case_id: str | None, routed: str) -> None:
        with self.deps.db.connect() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO inbound (reply_id, case_id, channel, sender_key, text, routed, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (reply.reply_id, case_id, reply.channel.value, None, reply.text, routed,
                 reply.received_at.isoformat()),
            )

    def handle(self, case_id: str) -> WorkflowHandle[RecoveryCaseWorkflow, object]:
        return self.client.get_workflow_handle_for(RecoveryCaseWorkflow.run, case_id)  # type: ignore[arg-type]
