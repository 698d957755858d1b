"""Provider delivery news about a message the engine sent: the outbox status, the ledger, consent for
unsubscribes, spam reports and bounces, and the contact's CRM timeline when the program asks for message notes.

This runs inside the durable webhook hand-off (workers/intake/handoff.py), which applies a delivery again after
a failure. Every effect is keyed, so a second application changes nothing: the outbox status only moves forward,
ledger events and consent changes carry ids derived from the message and status, and the note's idempotency key
is `{message_id}-note-{status}`. The note goes last: a CRM that fails for now (RetryableProviderError) fails the
application, which the hand-off tries again with backoff; a CRM that refuses the note for good
(PermanentProviderError) is logged and the note dropped, so one bad contact never retries forever.
"""

from __future__ import annotations

import structlog

from activities.crm import append_message_note
from connectors.contract import DeliveryStatus, PermanentProviderError
from connectors.local.whatsapp_window import WhatsAppWindows
from connectors.sendgrid.events import consent_effect
from domain import addresses
from domain.models import Channel, LedgerEvent
from policies import delivery
from policies.schema import CrmRules
from workers.dependencies import Dependencies

log = structlog.get_logger(__name__)


def record_delivery_status(deps: Dependencies, status: DeliveryStatus) -> None:
    if not status.message_id:
        return
    deps.outbox.set_status(status.message_id, status.status)
    row = next(iter(deps.outbox.messages_by_id(status.message_id)), None)
    if row is None:
        return
    case_id, contact_key = str(row["case_id"]), row.get("contact_key")
    template_id = str(row["template_id"] or "").split("@")[0] or None
    ledger_type = delivery.ledger_type(status.status)
    if ledger_type is not None:
        deps.ledger.append(LedgerEvent(
            event_id=f"{status.message_id}:status:{status.status}", case_id=case_id, type=ledger_type, at=status.at,
            source="provider", appointment_type="-", channel=Channel(str(row["channel"])), template_id=template_id,
            reason=status.error_code if status.status in delivery.FAILED else None,
            program=str(row["program"]) if row.get("program") else None,
        ))
    effect = consent_effect(status)
    if effect is not None and contact_key:
        # a carrier STOP, an unsubscribe or a spam report revokes; a hard bounce stops that channel
        deps.consent.opt_out(f"status-{status.provider_message_id}-{status.status}", str(contact_key),
                             channel=str(row["channel"]) if effect == "suppress" else "*",
                             evidence=f"provider status {status.status}", evidence_channel=str(row["channel"]),
                             at=status.at)
    if effect == "revoke" and row.get("recipient"):
        _revoke_address(deps, status, row)
    if str(row["channel"]) == Channel.whatsapp.value and status.error_code in delivery.WHATSAPP_WINDOW_CODES:
        _close_window(deps, status)
    _note(deps, status, row, template_id or "message")


def _revoke_address(deps: Dependencies, status: DeliveryStatus, row: dict[str, object]) -> None:
    """The person withdrew consent: the address itself is opted out of every channel too, so a contact record
    in another system that shares the address (and not the contact key) is stopped as well."""
    channel = Channel(str(row["channel"]))
    try:
        address = addresses.normalise(channel, str(row["recipient"]), deps.settings.routing.default_region)
    except addresses.AddressError:
        return
    deps.consent.opt_out(f"status-{status.provider_message_id}-{status.status}:address",
                         addresses.address_key(address, deps.settings.auth.id_salt),
                         evidence=f"provider status {status.status}", evidence_channel=channel.value, at=status.at)


def _close_window(deps: Dependencies, status: DeliveryStatus) -> None:
    """WhatsApp refused free text after the send was accepted: the window is closed for this number, so the
    next step sends the approved template."""
    if not status.recipient:
        return
    try:
        phone = addresses.normalise_phone(status.recipient, deps.settings.routing.default_region)
    except addresses.AddressError:
        return
    WhatsAppWindows(deps.db).record_refusal(addresses.address_key(phone, deps.settings.auth.id_salt), status.at)


def _note(deps: Dependencies, status: DeliveryStatus, row: dict[str, object], template_id: str) -> None:
    words = delivery.note_words(status.status)
    contact_id, rules = row.get("crm_contact_id"), _rules(deps, row.get("program"))
    if words is None or not contact_id or rules is None or not rules.message_notes:
        return
    try:
        append_message_note(deps.crm, rules, str(contact_id), str(row["message_id"]), str(row["case_id"]),
                            template_id, str(row["channel"]), status.status, words)
    except PermanentProviderError as exc:
        log.warning("crm_status_note_refused", case_id=str(row["case_id"]), status=status.status,
                    error=type(exc).__name__, code=exc.code)


def _rules(deps: Dependencies, program: object) -> CrmRules | None:
    """The CRM rules of the program the message was sent under, as the approved policy has them now (None when
    the row predates the program link or the program is gone)."""
    if not program:
        return None
    return next((p.crm for p in deps.policy().programs if p.name == program), None)
