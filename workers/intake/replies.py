"""A customer's message reaching its case: its sender's address normalised first, consent decided for that
address before any routing, then routed by case id or by who sent it, and recorded whatever happens.

STOP (and START, HELP) are answered here, at the API, whether or not a case exists, was messaged, is open or
closed: the opt-out is written to the consent ledger for the address and for every contact known to use it
(the pre-send check reads both, under the same lock as a send's reservation), every open case of those
contacts is told to stop, and the STOP gets exactly one confirmation. A reply is routed to the newest open case
that knows the address (a case knows its contact's addresses from its start, before it has written), else to
the newest open case of a contact with that address; a reply nobody can route, or one for closed cases only,
becomes a staff task."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal

import structlog
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from connectors.contract import OutboundMessage, RetryableProviderError
from connectors.local.whatsapp_window import WhatsAppWindows
from connectors.sending import confirm_once, consent_confirmation
from domain import addresses
from domain.case import ConsentConfirmation, OptOutNotice
from domain.ids import is_case_id
from domain.intake import ReplyOutcome
from domain.models import Channel, LedgerEvent, Reply, ReplyIntent
from policies import replies as reply_policy
from workers.dependencies import Dependencies
from workers.intake.backfill import backfill_reply, is_backfill_id
from workers.temporal.fanout import stop_open_cases
from workflows.case import RecoveryCaseWorkflow
from workflows.consent import ConfirmOptOutWorkflow

log = structlog.get_logger(__name__)

UNROUTED = "unrouted"  # the case id a confirmation carries when no case knows the address
MAX_CANDIDATES = 8  # cases asked whether they are open, newest first


def record_address_opt_out(deps: Dependencies, reply: Reply, akey: str) -> bool:
    """The address opted out of every channel by this STOP; True when this STOP is the one that did it."""
    return deps.consent.opt_out_newly(f"{reply.reply_id}:address", akey, evidence=reply.text[:500],
                                      evidence_channel=reply.channel.value, at=reply.received_at)


def opt_out_at_edge(deps: Dependencies, reply: Reply, sender: str) -> bool | None:
    """A STOP's address opted out before its delivery is acknowledged, so no send (each checks consent under its
    reservation lock) can follow it however long the routing waits; True when this STOP opted the address out,
    None when the message is no opt-out. An unreadable sender raises addresses.AddressError."""
    intent = reply_policy.understand(reply_policy.ReplyInput(text=reply.text, now=reply.received_at)).intent
    if intent != ReplyIntent.opt_out:
        return None
    address = addresses.normalise(reply.channel, sender, deps.settings.routing.default_region)
    return record_address_opt_out(deps, reply, addresses.address_key(address, deps.settings.auth.id_salt))


class ReplyRouter:
    def __init__(self, client: Client, deps: Dependencies) -> None:
        self.client = client
        self.deps = deps
        self.salt = deps.settings.auth.id_salt
        self.region = deps.settings.routing.default_region
        self.windows = WhatsAppWindows(deps.db)

    async def is_open(self, case_id: str) -> bool:
        try:
            desc = await self.client.get_workflow_handle(case_id).describe()
        except RPCError:
            return False
        return desc.status is not None and desc.status.name == "RUNNING"

    async def submit(self, reply: Reply, sender: str | None, case_id: str | None = None,
                     stopped_at_edge: bool | None = None) -> ReplyOutcome:
        """Route a customer's message to its case; record it whatever happens; honour consent words at once.
        An unreadable sender raises addresses.AddressError before anything is recorded. `stopped_at_edge` is
        what `opt_out_at_edge` answered for this STOP before the delivery was acknowledged."""
        if case_id is not None and not (is_case_id(case_id) or is_backfill_id(case_id)):
            case_id = None  # not an id this engine made: never signal some other workflow with a customer's text
        address = addresses.normalise(reply.channel, sender, self.region) if sender else None
        akey = addresses.address_key(address, self.salt) if address else None
        to = addresses.subject(address) if address else None  # what the outbox and the channels call it
        if reply.channel == Channel.whatsapp and to is not None:
            # the customer wrote on WhatsApp: free text may answer for 24 h (keyed like the consent subject)
            await asyncio.to_thread(self.windows.record_inbound, addresses.address_key(to, self.salt),
                                    reply.received_at)
        wrote_last = await asyncio.to_thread(self.deps.outbox.case_for_recipient, to) if to and not case_id else None
        if is_backfill_id(case_id) or (case_id is None and is_backfill_id(wrote_last)):
            return await self._waitlist_reply(reply, to, str(case_id or wrote_last), bool(stopped_at_edge))
        understanding = reply_policy.understand(reply_policy.ReplyInput(text=reply.text, now=reply.received_at))
        intent = understanding.intent
        contact_keys = await asyncio.to_thread(self._contact_keys, akey, case_id)
        if case_id is not None:
            routed_case: str | None = case_id
            is_open = await self.is_open(case_id)
        else:
            routed_case, is_open = await self._find_case(akey, contact_keys, wrote_last)
        if routed_case is not None and not contact_keys:
            contact_keys = await asyncio.to_thread(self._contact_keys, None, routed_case)
        if intent == ReplyIntent.opt_out and (to is not None or contact_keys):
            return await self._opt_out(reply, to, akey, contact_keys, routed_case, is_open, bool(stopped_at_edge))
        if intent == ReplyIntent.opt_in and to is not None and akey is not None:
            await asyncio.to_thread(self._opt_in, reply, to, akey, contact_keys, routed_case)
        routed: Literal["case", "unknown_sender", "closed_case"]
        if routed_case is None:
            routed = "unknown_sender"
        elif is_open:
            routed = "case"
            await self.client.get_workflow_handle(routed_case).signal(RecoveryCaseWorkflow.customer_reply, reply)
        else:
            routed = "closed_case"
        await asyncio.to_thread(self.deps.inbox.record, reply, routed_case, routed)
        if routed != "case":
            if intent == ReplyIntent.help and to is not None:
                await asyncio.to_thread(self._send_once, reply, to, f"help-{reply.reply_id}",
                                        self.deps.policy().help_text, routed_case, contact_keys, akey, "help")
            elif intent not in (ReplyIntent.opt_in, ReplyIntent.help):
                self._ask_a_human(reply, routed, intent, routed_case)
        log.info("reply_routed", case_id=routed_case, routed=routed, intent=intent.value)
        return ReplyOutcome(reply_id=reply.reply_id, case_id=routed_case, routed=routed,
                            opted_out=intent == ReplyIntent.opt_out)

    # ------------------------------------------------------------------ routing

    def _contact_keys(self, akey: str | None, case_id: str | None) -> list[str]:
        keys = list(self.deps.addresses.contact_keys(akey)) if akey else []
        if case_id is not None:
            for found in (self.deps.addresses.contact_key_of_case(case_id),
                          self.deps.outbox.contact_key_for_case(case_id)):
                if found and found not in keys:
                    keys.append(found)
        return keys

    async def _find_case(self, akey: str | None, contact_keys: list[str], wrote_last: str | None
                         ) -> tuple[str | None, bool]:
        """The newest open case that knows the address, else of a contact with it; else the newest known."""
        candidates: list[str] = []
        if akey is not None:
            found = await asyncio.to_thread(self._candidates, akey, contact_keys)
            candidates.extend(found)
        if wrote_last and wrote_last not in candidates and is_case_id(wrote_last):
            candidates.append(wrote_last)
        for candidate in candidates[:MAX_CANDIDATES]:
            if await self.is_open(candidate):
                return candidate, True
        return (candidates[0] if candidates else None), False

    def _candidates(self, akey: str, contact_keys: list[str]) -> list[str]:
        out: list[str] = []
        intended = self.deps.intents.case_for_address(akey)
        for case_id in [*self.deps.addresses.cases_for_address(akey), *([intended] if intended else []),
                        *self.deps.addresses.cases_of_contacts(contact_keys)]:
            if case_id not in out and is_case_id(case_id):
                out.append(case_id)
        return out

    # ------------------------------------------------------------------ consent

    async def _opt_out(self, reply: Reply, to: str | None, akey: str | None, contact_keys: list[str],
                       routed_case: str | None, is_open: bool, stopped_at_edge: bool) -> ReplyOutcome:
        first = await asyncio.to_thread(self._record_opt_out, reply, akey, contact_keys, routed_case,
                                        stopped_at_edge)
        if to is not None and first:
            pending = await asyncio.to_thread(
                self._send_once, reply, to, f"consent-{reply.reply_id}", self.deps.policy().opt_out_confirmation,
                routed_case, contact_keys, akey, "consent_opted_out")
            if pending is not None:
                await self._confirm_later(pending)
        elif to is None and routed_case is not None and is_open:
            # nobody to confirm to from here (a reply by case id alone): the case answers its own STOP
            await self.client.get_workflow_handle(routed_case).signal(RecoveryCaseWorkflow.customer_reply, reply)
        await self._stop_cases(reply.reply_id, contact_keys, akey, skip=routed_case if to is None else None)
        routed: Literal["case", "unknown_sender", "closed_case"] = \
            "unknown_sender" if routed_case is None else "case" if is_open else "closed_case"
        await asyncio.to_thread(self.deps.inbox.record, reply, routed_case, routed)
        log.info("reply_routed", case_id=routed_case, routed=routed, intent=ReplyIntent.opt_out.value)
        return ReplyOutcome(reply_id=reply.reply_id, case_id=routed_case, routed=routed, opted_out=True)

    def _record_opt_out(self, reply: Reply, akey: str | None, contact_keys: list[str],
                        routed_case: str | None, stopped_at_edge: bool = False) -> bool:
        """The address and every contact with it, opted out of every channel. True when this STOP opted the
        address out (the one that earns the confirmation): not for a re-delivery, nor for a STOP from an address
        already out, nor for the second of two STOPs arriving at once. When the edge already opted the address
        out for this STOP, its answer stands."""
        first = False
        evidence = reply.text[:500]
        if akey is not None:
            first = record_address_opt_out(self.deps, reply, akey) or stopped_at_edge
        for contact_key in contact_keys:
            # the case's own record of this STOP (by reply id) counts as the same event
            event_id = reply.reply_id if akey is None else f"{reply.reply_id}:{contact_key}"
            new = self.deps.consent.opt_out(event_id, contact_key, evidence=evidence,
                                            evidence_channel=reply.channel.value, at=reply.received_at)
            first = first or (akey is None and new)
        if first and routed_case is not None:
            self.deps.ledger.append(LedgerEvent(
                event_id=f"{reply.reply_id}:opt_out", case_id=routed_case, type="opt_out", at=reply.received_at,
                source="reply", appointment_type="-", channel=reply.channel,
            ))
        return first

    def _opt_in(self, reply: Reply, to: str, akey: str, contact_keys: list[str], routed_case: str | None) -> None:
        first = self.deps.consent.opt_in(f"{reply.reply_id}:address", akey, evidence=reply.text[:500],
                                         evidence_channel=reply.channel.value, at=reply.received_at)
        for contact_key in contact_keys:
            self.deps.consent.opt_in(f"{reply.reply_id}:{contact_key}", contact_key, evidence=reply.text[:500],
                                     evidence_channel=reply.channel.value, at=reply.received_at)
        if first:
            self._send_once(reply, to, f"consent-{reply.reply_id}", "You are subscribed again. Reply STOP to opt out.",
                            routed_case, contact_keys, akey, "consent_opted_in")

    async def _stop_cases(self, event_id: str, contact_keys: list[str], akey: str | None, skip: str | None) -> None:
        """Every case of every contact with the address, told to stop: from the address book (also cases too
        new for the visibility store), then by contact key in the visibility store (older cases)."""
        known = await asyncio.to_thread(self._known_cases, contact_keys, akey)
        notice = OptOutNotice(event_id=event_id, channel="*")
        for case_id in known:
            if case_id == skip:
                continue
            with contextlib.suppress(RPCError):  # closed, or never started: nothing to stop
                await self.client.get_workflow_handle(case_id).signal(RecoveryCaseWorkflow.opted_out, notice)
        for contact_key in contact_keys:
            await stop_open_cases(self.client, contact_key, event_id, except_case=skip)

    def _known_cases(self, contact_keys: list[str], akey: str | None) -> list[str]:
        cases = self.deps.addresses.cases_of_contacts(contact_keys)
        if akey is not None:
            cases += [c for c in self.deps.addresses.cases_for_address(akey) if c not in cases]
        return cases

    def _send_once(self, reply: Reply, to: str, message_id: str, body: str, case_id: str | None,
                   contact_keys: list[str], akey: str | None, template_id: str) -> ConsentConfirmation | None:
        """One message answering the customer (message id from the reply: a re-delivery finds it sent). Returned
        when the provider could not take it now, for ConfirmOptOut to send later."""
        message = OutboundMessage(message_id=message_id, case_id=case_id or UNROUTED, channel=reply.channel, to=to,
                                  subject="Subscription update", body=body, template_id=template_id)
        contact_key = contact_keys[0] if contact_keys else akey or UNROUTED
        try:
            confirm_once(self.deps.channels, self.deps.outbox, message, contact_key)
        except RetryableProviderError as exc:
            log.warning("consent_answer_not_sent_yet", case_id=case_id, error=type(exc).__name__)
            return ConsentConfirmation(message_id=message.message_id, case_id=message.case_id,
                                       contact_key=contact_key, channel=reply.channel, to=to,
                                       subject=message.subject, body=body, template_id=template_id)
        return None

    async def _confirm_later(self, pending: ConsentConfirmation) -> None:
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self.client.start_workflow(
                ConfirmOptOutWorkflow.run, pending, id=f"confirm-{pending.message_id}",
                task_queue=self.deps.settings.temporal.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )

    # ------------------------------------------------------------------ waitlist offers

    async def _waitlist_reply(self, reply: Reply, sender: str | None, backfill_id: str,
                              stopped_at_edge: bool) -> ReplyOutcome:
        """An answer to a waitlist offer. No case workflow is listening: a clear yes goes to the backfill, an
        opt-out is recorded, confirmed once and fanned out here, anything else goes to a human. One backfill
        writes to many people, so the sender's address says who answered; without it nobody can be credited."""
        contact_key = self.deps.waitlist.contact_key_for_reply(backfill_id, sender) if sender else None
        understanding = reply_policy.understand(reply_policy.ReplyInput(text=reply.text, now=reply.received_at))
        outcome = ReplyOutcome(reply_id=reply.reply_id, case_id=backfill_id, routed="waitlist_offer")
        if sender is None or contact_key is None:
            outcome.backfill = "unknown_sender"
            if understanding.intent == ReplyIntent.opt_out and sender is not None:
                akey = addresses.address_key(sender, self.salt)
                if self._record_opt_out(reply, akey, [], None, stopped_at_edge):
                    self._confirm_opt_out(reply, sender, akey, backfill_id)
                outcome.opted_out = True
            else:
                self._ask_a_human(reply, "waitlist_offer", understanding.intent, backfill_id)
        elif understanding.intent == ReplyIntent.opt_out:
            akey = addresses.address_key(sender, self.salt)
            keys = [contact_key, *(k for k in self.deps.addresses.contact_keys(akey) if k != contact_key)]
            if self._record_opt_out(reply, akey, keys, None, stopped_at_edge):
                self._confirm_opt_out(reply, sender, contact_key, backfill_id)
            await self._stop_cases(reply.reply_id, keys, akey, skip=None)
            outcome.opted_out = True
        else:
            outcome.backfill = await backfill_reply(self.client, self.deps, backfill_id, reply, sender)
            if outcome.backfill in ("not_a_yes", "unknown_sender", "closed"):
                self._ask_a_human(reply, "waitlist_offer", understanding.intent, backfill_id)
        self.deps.inbox.record(reply, backfill_id, "waitlist_offer")
        log.info("reply_routed", case_id=backfill_id, routed="waitlist_offer", intent=understanding.intent.value,
                 backfill=outcome.backfill)
        return outcome

    def _confirm_opt_out(self, reply: Reply, sender: str, contact_key: str, case_id: str) -> None:
        """Exactly one confirmation per opt-out (a re-delivered STOP finds it in the outbox)."""
        message = consent_confirmation(reply.reply_id, case_id, reply.channel, sender, "opted_out",
                                       self.deps.policy().opt_out_confirmation)
        try:
            confirm_once(self.deps.channels, self.deps.outbox, message, contact_key)
        except RetryableProviderError as exc:
            # the opt-out itself is recorded; the courtesy note is not worth failing the webhook over
            log.warning("opt_out_confirmation_not_sent", case_id=case_id, error=type(exc).__name__)

    def _ask_a_human(self, reply: Reply, routed: str, intent: ReplyIntent, case_id: str | None = None) -> None:
        """A staff task (`GET /inbox/tasks`, `noshow inbox`), and the CRM's own task for the owner."""
        self.deps.inbox.add_task(reply, case_id, routed, intent.value)
        self.deps.crm.create_task(None, f"Reply needs a human ({routed}, intent {intent.value})",
                                  f"inbound-{reply.reply_id}")

