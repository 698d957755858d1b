"""A customer's call nobody answered (Twilio Voice, or a phone system's `phone.call_missed` event): when the number
belongs to a case whose appointment is near the call, a "we missed your call" staff task (the staff inbox and the
CRM) per the program's `missed_calls` rules, and a `missed_call` ledger event. The caller's number is used only to
find the case (as an address key); it is never stored, logged or put in the task."""

from __future__ import annotations

import structlog
from temporalio.client import Client
from temporalio.service import RPCError

from connectors.contract import PhoneCall
from domain import addresses
from domain.case import CaseInput
from domain.models import AppointmentEvent, AttendanceSignal, Channel, EventType, LedgerEvent, Reply, SignalKind
from policies.missed_calls import case_for_call
from policies.schema import MissedCallRules
from workers.dependencies import Dependencies
from workflows.case import RecoveryCaseWorkflow

log = structlog.get_logger(__name__)

CALL_BACK = "Missed call from the customer: call them back"


def record_missed_call(deps: Dependencies, call: PhoneCall) -> str | None:
    """The case the call was about (None when no appointment is near); safe to run twice for one call. The
    case's program asks for the call as attendance evidence: `evidence_for` then tells the case."""
    try:
        phone = addresses.normalise_phone(call.caller, deps.settings.routing.default_region)
    except addresses.AddressError:
        log.info("missed_call_unmatched", source=call.source, reason="caller_unreadable")
        return None
    akey = addresses.address_key(phone, deps.settings.auth.id_salt)
    rules = {p.name: p.missed_calls for p in deps.policy().programs}
    known = deps.addresses.appointments_for_address(akey)
    case_id = case_for_call(call.at, [(c, start, rules.get(p, MissedCallRules())) for c, p, start in known])
    if case_id is None:
        log.info("missed_call_unmatched", source=call.source, reason="no_appointment_near")
        return None
    program = next(p for c, p, _ in known if c == case_id)
    deps.ledger.append(LedgerEvent(event_id=f"call:{call.source}:{call.call_id}:missed_call", case_id=case_id,
                                   type="missed_call", at=call.at, source=call.source, appointment_type="-",
                                   reason=call.status, program=program))
    if rules.get(program, MissedCallRules()).call_back_task:
        # the staff inbox keys tasks by the message they answer: the call stands in for it, with no caller in it
        note = Reply(reply_id=f"call-{call.source}-{call.call_id}"[:200], channel=Channel.sms, text=CALL_BACK,
                     received_at=call.at)
        deps.inbox.record(note, case_id, "missed_call")
        deps.inbox.add_task(note, case_id, "missed_call", "call_back")
        deps.crm.create_task(None, CALL_BACK, f"missed-call-{call.source}-{call.call_id}")
    log.info("missed_call_recorded", case_id=case_id, source=call.source)
    return case_id


def wants_evidence(deps: Dependencies, case_id: str) -> bool:
    program = next((p for c, p, _ in deps.addresses.appointments_for_case(case_id)), None)
    rules = next((p.missed_calls for p in deps.policy().programs if p.name == program), MissedCallRules())
    return rules.as_evidence


async def tell_case(client: Client, case_id: str, call: PhoneCall) -> bool:
    """The open case hears of the call as an attendance signal on its own appointment (read from the case's
    start, so the event names the appointment the case was started for); False when the case is not running."""
    handle = client.get_workflow_handle(case_id)
    try:
        description = await handle.describe()
        if description.status is None or description.status.name != "RUNNING":
            return False
        started = None
        async for history_event in handle.fetch_history_events():
            started = history_event.workflow_execution_started_event_attributes
            break
        if started is None:
            return False
        [case_input] = await client.data_converter.decode(started.input.payloads, [CaseInput])
    except RPCError:
        return False
    event = AppointmentEvent(
        event_id=f"call:{call.source}:{call.call_id}"[:200], type=EventType.attendance_signal, occurred_at=call.at,
        appointment=case_input.appointment,
        signal=AttendanceSignal(kind=SignalKind.phone_call, at=call.at, source=call.source, value="missed_call"),
    )
    await handle.signal(RecoveryCaseWorkflow.appointment_event, event)
    return True
