"""The reactivation list kept in a marketing audience (Mailchimp): when the close writes the program's
reactivation field, the contact is tagged or their journey step triggered, under the engine's consent.

A contact who opted out anywhere (any channel, under their contact key or the key of their email or phone) is
never added; neither is a member the audience itself lists as unsubscribed or cleaned. The tag is safe to add
twice, so an activity retry repeats nothing visible; the journey trigger is refused by Mailchimp for a member
already in that step (UNVERIFIED), so its retry cannot enrol twice either. Best effort, as the scheduler's
no-show write-back: a refusal or an outage is logged and the close goes on (a case never fails to close because
the marketing audience is down)."""

from __future__ import annotations

from typing import Protocol

import structlog

from connectors.contract import PermanentProviderError, ProviderError
from connectors.local.consent import ConsentLedger
from domain import addresses
from domain.case import CrmUpdate
from domain.ids import contact_key_for
from domain.models import Channel
from policies.schema import MailchimpAudience

log = structlog.get_logger(__name__)

BLOCKED_STATUSES = frozenset({"unsubscribed", "cleaned"})


class AudienceApi(Protocol):
    def member_status(self, list_id: str, email: str) -> str | None: ...

    def add_tag(self, list_id: str, email: str, tag: str) -> None: ...

    def trigger_journey(self, journey_id: str, step_id: str, email: str) -> None: ...


class ReactivationAudience:
    def __init__(self, api: AudienceApi, consent: ConsentLedger, salt: str, region: str) -> None:
        self.api, self.consent, self.salt, self.region = api, consent, salt, region

    def enrol(self, req: CrmUpdate) -> str:
        """What happened: "added", "not_listed" (the close wrote no reactivation field), "opted_out",
        "no_email", "refused", "unavailable"."""
        rules = req.resolved.program.reactivation
        target = rules.mailchimp
        if target is None or rules.crm_field is None or req.fields.get(rules.crm_field) != rules.crm_value:
            return "not_listed"
        contact = req.appointment.contact
        email = self._address(Channel.email, contact.email)
        if email is None:
            return "no_email"
        if self._opted_out(contact.contact_id, email, contact.phone):
            log.info("audience_skipped_opted_out", case_id=req.case_id)
            return "opted_out"
        try:
            if target.list_id and target.tag:
                if self._unsubscribed(target, email):
                    log.info("audience_skipped_unsubscribed", case_id=req.case_id)
                    return "opted_out"
                self.api.add_tag(target.list_id, email, target.tag)
            elif target.journey_id and target.step_id:
                self.api.trigger_journey(target.journey_id, target.step_id, email)
        except PermanentProviderError as exc:
            log.warning("audience_refused", case_id=req.case_id, code=exc.code)
            return "refused"
        except ProviderError as exc:
            log.warning("audience_unavailable", case_id=req.case_id, error=type(exc).__name__)
            return "unavailable"
        log.info("audience_added", case_id=req.case_id)
        return "added"

    def _unsubscribed(self, target: MailchimpAudience, email: str) -> bool:
        try:
            status = self.api.member_status(target.list_id or "", email)
        except PermanentProviderError as exc:
            if exc.code == "Resource Not Found":
                return False  # not a member yet: tagging refuses it, which is logged
            raise
        return status in BLOCKED_STATUSES

    def _address(self, channel: Channel, raw: str | None) -> str | None:
        if not raw:
            return None
        try:
            return addresses.normalise(channel, raw, self.region)
        except addresses.AddressError:
            return None

    def _opted_out(self, contact_id: str, email: str, phone: str | None) -> bool:
        keys = [contact_key_for(contact_id, self.salt), addresses.address_key(email, self.salt)]
        number = self._address(Channel.sms, phone)
        if number is not None:
            keys.append(addresses.address_key(number, self.salt))
        return any(self.consent.opted_out_channels(key) for key in keys)
