"""A customer's message reaching its case: routed by case id or by who sent it, recorded whatever happens,
an opt-out honoured before anything else (the ledger first, then every open case of the contact, then one
confirmation). A reply nobody can route, or one to a closed case, becomes a staff task."""

from __future__ import annotations

from typing import Literal

import structlog
from temporalio.client import Client
from temporalio.service import RPCError

from connectors.contract import RetryableProviderError
from connectors.sending import confirm_once, consent_confirmation
from domain.ids import is_case_id
from domain.intake import ReplyOutcome
from domain.models import Reply, ReplyIntent
from policies import replies as reply_policy
from workers.dependencies import Dependencies
from workers.intake.backfill import backfill_reply, is_backfill_id
from workers.temporal.fanout import stop_open_cases
from workflows.case import RecoveryCaseWorkflow

log = structlog.get_logger(__name__)


class ReplyRouter:
    def __init__(self, client: Client, deps: Dependencies) -> None:
        self.client = client
        self.deps = deps

    async def is_open(self, case_id: str) -> bool:
        try:
            desc = await self.client.get_workflow_handle(case_id).describe()
        except RPCError:
            return False
        return desc.status is not None and desc.status.name == "RUNNING"

    async def submit(self, reply: Reply, sender: str | None, case_id: str | None = None) -> ReplyOutcome:
        """Route a customer's message to its case; record it whatever happens; honour opt-outs at once."""
        if case_id is not None and not (is_case_id(case_id) or is_backfill_id(case_id)):
            case_id = None  # not an id this engine made: never signal some other workflow with a customer's text
        routed_case = case_id or (self.deps.outbox.case_for_recipient(sender) if sender else None)
        if is_backfill_id(routed_case):
            return await self._waitlist_reply(reply, sender, str(routed_case))
        contact_key = self.deps.outbox.contact_key_for_case(routed_case) if routed_case else None
        understanding = reply_policy.understand(reply_policy.ReplyInput(text=reply.text, now=reply.received_at))
        opted_out = understanding.intent == ReplyIntent.opt_out
        if opted_out and contact_key:
            # suppression takes effect before any workflow runs: the pre-send check reads this ledger
            self._record_opt_out(reply, contact_key)
            await stop_open_cases(self.client, contact_key, reply.reply_id, except_case=routed_case)
        routed: Literal["case", "unknown_sender", "closed_case"]
        if routed_case is None:
            routed = "unknown_sender"
        elif await self.is_open(routed_case):
            routed = "case"
            await self.client.get_workflow_handle(routed_case).signal(RecoveryCaseWorkflow.customer_reply, reply)
        else:
            routed = "closed_case"
        self.deps.inbox.record(reply, routed_case, routed)
        if routed != "case":
            self._ask_a_human(reply, routed, understanding.intent)
        log.info("reply_routed", case_id=routed_case, routed=routed, intent=understanding.intent.value)
        return ReplyOutcome(reply_id=reply.reply_id, case_id=routed_case, routed=routed, opted_out=opted_out)

    async def _waitlist_reply(self, reply: Reply, sender: str | None, backfill_id: str) -> ReplyOutcome:
        """An answer to a waitlist offer. No case workflow is listening: a clear yes goes to the backfill, an
        opt-out is recorded, confirmed once and fanned out here, anything else goes to a human. One backfill
        writes to many people, so the sender's address says who answered; without it nobody can be credited."""
        contact_key = self.deps.waitlist.contact_key_for_reply(backfill_id, sender) if sender else None
        understanding = reply_policy.understand(reply_policy.ReplyInput(text=reply.text, now=reply.received_at))
        outcome = ReplyOutcome(reply_id=reply.reply_id, case_id=backfill_id, routed="waitlist_offer")
        if sender is None or contact_key is None:
            outcome.backfill = "unknown_sender"
            self._ask_a_human(reply, "waitlist_offer", understanding.intent)
        elif understanding.intent == ReplyIntent.opt_out:
            already_out = self.deps.consent.is_blocked(contact_key, reply.channel.value)
            self._record_opt_out(reply, contact_key)
            if not already_out:
                self._confirm_opt_out(reply, sender, contact_key, backfill_id)
            await stop_open_cases(self.client, contact_key, reply.reply_id, except_case=None)
            outcome.opted_out = True
        else:
            outcome.backfill = await backfill_reply(self.client, self.deps, backfill_id, reply, sender)
            if outcome.backfill in ("not_a_yes", "unknown_sender", "closed"):
                self._ask_a_human(reply, "waitlist_offer", understanding.intent)
        self.deps.inbox.record(reply, backfill_id, "waitlist_offer")
        log.info("reply_routed", case_id=backfill_id, routed="waitlist_offer", intent=understanding.intent.value,
                 backfill=outcome.backfill)
        return outcome

    def _record_opt_out(self, reply: Reply, contact_key: str) -> None:
        self.deps.consent.opt_out(reply.reply_id, contact_key, evidence=reply.text[:500],
                                 evidence_channel=reply.channel.value, at=reply.received_at)

    def _confirm_opt_out(self, reply: Reply, sender: str, contact_key: str, case_id: str) -> None:
        """Exactly one confirmation per opt-out (a re-delivered STOP finds it in the outbox)."""
        message = consent_confirmation(reply.reply_id, case_id, reply.channel, sender, "opted_out",
                                       self.deps.policy().opt_out_confirmation)
        try:
            confirm_once(self.deps.channels, self.deps.outbox, message, contact_key)
        except RetryableProviderError as exc:
            # the opt-out itself is recorded; the courtesy note is not worth failing the webhook over
            log.warning("opt_out_confirmation_not_sent", case_id=case_id, error=type(exc).__name__)

    def _ask_a_human(self, reply: Reply, routed: str, intent: ReplyIntent) -> None:
        self.deps.crm.create_task(None, f"Reply needs a human ({routed}, intent {intent.value})",
                                  f"inbound-{reply.reply_id}")
