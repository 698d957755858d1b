"""A provider's opt-out that names an address rather than a message the engine sent (a Mailchimp audience
unsubscribe or cleaned address): the address's key is opted out of that channel, which every later send checks
(activities/messaging.py reads the consent of the addresses it writes to). Keyed by the notice id, so applying
a delivery again records nothing new."""

from __future__ import annotations

import structlog

from connectors.contract import ConsentNotice
from domain import addresses
from workers.dependencies import Dependencies

log = structlog.get_logger(__name__)


def record_consent_notice(deps: Dependencies, notice: ConsentNotice) -> None:
    try:
        address = addresses.normalise(notice.channel, notice.address, deps.settings.routing.default_region)
    except addresses.AddressError:
        log.info("consent_notice_unreadable_address", reason=notice.reason)
        return
    key = addresses.address_key(address, deps.settings.auth.id_salt)
    deps.consent.opt_out(notice.notice_id, key, channel=notice.channel.value, evidence=notice.reason,
                         evidence_channel=notice.channel.value, at=notice.at)
