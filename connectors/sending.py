"""Handing one message to its channel's connector, with the engine's own record of it in the outbox (caps and
reply routing read that record), and the one confirmation a consent change gets."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from connectors.contract import MessageChannel, OutboundMessage, PermanentProviderError
from connectors.local.outbox import LocalOutbox
from domain.models import Channel


def consent_confirmation(event_id: str, case_id: str, channel: Channel, to: str, status: str,
                         body: str) -> OutboundMessage:
    """The one confirmation of a consent event (its id makes a retry or a re-delivery find it already sent)."""
    return OutboundMessage(message_id=f"consent-{event_id}", case_id=case_id, channel=channel, to=to,
                           subject="Subscription update", body=body, template_id=f"consent_{status}")


def confirm_once(channels: dict[Channel, MessageChannel], outbox: LocalOutbox, message: OutboundMessage,
                 contact_key: str) -> None:
    """Send a consent confirmation unless it went already. A permanent refusal is swallowed (the confirmation is
    a courtesy; the consent change itself is recorded); a retryable one is raised for the caller to schedule."""
    if outbox.lookup(message.message_id) is not None:
        return
    with contextlib.suppress(PermanentProviderError):
        deliver(channels, outbox, message, contact_key)


def deliver(channels: dict[Channel, MessageChannel], outbox: LocalOutbox, message: OutboundMessage,
            contact_key: str, at: datetime | None = None, crm_contact_id: str | None = None,
            program: str | None = None) -> Any:
    """Hand one message to its channel's connector; provider sends are also recorded in the outbox (with the
    CRM contact and program its later statuses are noted under)."""
    connector = channels.get(message.channel)
    if connector is None:
        raise PermanentProviderError(f"no connector configured for {message.channel.value}", code="no_connector")
    if isinstance(connector, LocalOutbox):
        return connector.send(message, contact_key=contact_key, at=at, crm_contact_id=crm_contact_id,
                              program=program)
    receipt = connector.send(message)
    # the outbox keeps the engine's own record of every provider send, for caps, reply routing and statuses
    outbox.send(message, contact_key=contact_key, at=at, crm_contact_id=crm_contact_id, program=program)
    return receipt
