"""Provider delivery news about a message the engine sent: the outbox status, the ledger, and consent for
unsubscribes, spam reports and bounces."""

from __future__ import annotations

from connectors.contract import DeliveryStatus
from connectors.sendgrid.events import consent_effect
from domain.models import Channel, LedgerEvent
from workers.dependencies import Dependencies

_FAILED = {"failed", "undelivered", "bounced", "dropped", "spam", "unsubscribed"}


def record_delivery_status(deps: Dependencies, status: DeliveryStatus) -> None:
    if not status.message_id:
        return
    deps.outbox.set_status(status.message_id, status.status)
    row = next(iter(deps.outbox.messages_by_id(status.message_id)), None)
    if row is None:
        return
    case_id, contact_key = str(row["case_id"]), row.get("contact_key")
    if status.status == "delivered" or status.status in _FAILED:
        deps.ledger.append(LedgerEvent(
            event_id=f"{status.message_id}:status:{status.status}", case_id=case_id,
            type="message_delivered" if status.status == "delivered" else "message_failed", at=status.at,
            source="provider", appointment_type="-", channel=Channel(str(row["channel"])),
            template_id=str(row["template_id"] or "").split("@")[0] or None, reason=status.error_code,
        ))
    effect = consent_effect(status)
    if effect is not None and contact_key:
        # a carrier STOP, an unsubscribe or a spam report revokes; a hard bounce stops that channel
        deps.consent.opt_out(f"status-{status.provider_message_id}-{status.status}", str(contact_key),
                             channel=str(row["channel"]) if effect == "suppress" else "*",
                             evidence=f"provider status {status.status}", evidence_channel=str(row["channel"]),
                             at=status.at)
