"""Writing outcomes to the CRM under the policy's write rules: allowed fields only, notes appended."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from temporalio import activity

from activities.audience import ReactivationAudience
from activities.clock import activity_now
from activities.ledger import ensure_recordable, record
from connectors.contract import CrmConnector
from connectors.local.verdicts import VerdictLog
from domain.case import CrmUpdate, CrmUpdateResult, SendRequest
from domain.models import Channel, LedgerEvent
from policies import crm_rules
from policies.schema import CrmRules

log = structlog.get_logger(__name__)


class CrmActivities:
    def __init__(self, crm: CrmConnector, ledger: Any,
                 clock: Callable[[], datetime] = activity_now, verdicts: VerdictLog | None = None,
                 audience: ReactivationAudience | None = None) -> None:
        self.crm = crm
        self.audience = audience
        self.ledger = ledger
        self.clock = clock
        self.verdicts = verdicts

    @activity.defn(name="update_crm")
    def update_crm(self, req: CrmUpdate) -> CrmUpdateResult:
        ensure_recordable(self.verdicts, req.ledger_events)
        appt = req.appointment
        contact_id = appt.contact.contact_id
        key = f"{req.case_id}-crm-{req.step}"
        current = self.crm.read_fields(contact_id, appt.appointment_id)
        rules = req.resolved.program.crm
        fields = dict(req.fields)
        score = crm_rules.lead_score_after(rules.lead_score, current.get(rules.lead_score.field)
                                           if rules.lead_score else None, fields)
        if score is not None and rules.lead_score is not None:
            fields[rules.lead_score.field] = score
        plan = crm_rules.plan_write(rules, current, fields,
                                    [req.note] if req.note else [])
        if plan.changes:
            self.crm.write_fields(contact_id, appt.appointment_id, {c.field: c.after for c in plan.changes}, key)
        for i, note in enumerate(plan.notes_to_append):
            self.crm.append_note(contact_id, note, f"{key}-note-{i}")
        if req.owner_task:
            self.crm.create_task(appt.owner_id, req.owner_task, f"{key}-task", contact_id=contact_id)
        if self.audience is not None:
            self.audience.enrol(req)
        # with the case's carried events, in one ledger transaction
        record(self.ledger, self.verdicts, [*req.ledger_events, LedgerEvent(
            event_id=f"{key}:crm_updated", case_id=req.case_id, type="crm_updated", at=self.clock(),
            source=appt.source, appointment_type=appt.appointment_type, owner_id=appt.owner_id,
            data={"written": ",".join(c.field for c in plan.changes), "refused": ",".join(plan.refused)},
        )])
        return CrmUpdateResult(written=[c.field for c in plan.changes], refused=plan.refused)

    def note_message(self, req: SendRequest, status: str, channel: Channel | None, template_id: str) -> None:
        """The contact's CRM timeline gets one note per message and status, when the program asks for it. A CRM
        that cannot take it now never fails the send that already happened."""
        try:
            append_message_note(self.crm, req.resolved.program.crm, req.appointment.contact.contact_id,
                                req.message_id, req.case_id, template_id,
                                channel.value if channel is not None else None, status)
        except Exception as exc:
            log.warning("crm_message_note_failed", case_id=req.case_id, status=status, error=type(exc).__name__)


def append_message_note(crm: CrmConnector, rules: CrmRules, contact_id: str, message_id: str, case_id: str,
                        template_id: str, channel: str | None, status: str, words: str | None = None) -> None:
    """Append the note of one message status (`words`: how the timeline says it, the status by default), keyed
    `{message_id}-note-{status}` so a retry, a replayed webhook or a second provider reporting the same status
    writes it once. The CRM's errors are the caller's to handle."""
    for note in crm_rules.message_note(rules, template_id, channel, words or status, case_id):
        crm.append_note(contact_id, note, f"{message_id}-note-{status}")
