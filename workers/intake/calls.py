"""A customer's call nobody answered (Twilio Voice, or a phone system's `phone.call_missed` event): when the number
belongs to a case whose appointment is near the call, a "we missed your call" staff task (the staff inbox and the
CRM) per the program's `missed_calls` rules, and a `missed_call` ledger event. The caller's number is used only to
find the case (as an address key); it is never stored, logged or put in the task."""

from __future__ import annotations

import structlog

from connectors.contract import PhoneCall
from domain import addresses
from domain.models import Channel, LedgerEvent, Reply
from policies.missed_calls import case_for_call
from policies.schema import MissedCallRules
from workers.dependencies import Dependencies

log = structlog.get_logger(__name__)

CALL_BACK = "Missed call from the customer: call them back"


def record_missed_call(deps: Dependencies, call: PhoneCall) -> str | None:
    """The case the call was about (None when no appointment is near); safe to run twice for one call."""
    try:
        phone = addresses.normalise_phone(call.caller, deps.settings.routing.default_region)
    except addresses.AddressError:
        log.info("missed_call_unmatched", source=call.source, reason="caller_unreadable")
        return None
    akey = addresses.address_key(phone, deps.settings.auth.id_salt)
    rules = {p.name: p.missed_calls for p in deps.policy().programs}
    candidates = [(case_id, start, rules.get(program, MissedCallRules()))
                  for case_id, program, start in deps.addresses.appointments_for_address(akey)]
    case_id = case_for_call(call.at, candidates)
    if case_id is None:
        log.info("missed_call_unmatched", source=call.source, reason="no_appointment_near")
        return None
    program = next(p for c, p, _ in deps.addresses.appointments_for_address(akey) if c == case_id)
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
