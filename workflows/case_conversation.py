"""Replies: what a reply means, and the answers a case gives wherever it is (STOP, START, HELP).

Every stage that reads replies takes them through `_next_reply()`: the consent and help answers are the same
whether the case is recovering, waiting for a reviewer, offering slots or following the new appointment, and
the stage only sees the replies that are about the appointment.

Passed through the sandbox like every case module: see workflows/case_base.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from temporalio import workflow

import workflows.common as common
from activities.messaging import ConsentActivities, MessagingActivities
from domain.case import ConsentChange, UnderstandRequest
from domain.models import LedgerEvent, Reply, ReplyIntent, ReplyUnderstanding, Stage
from policies import replies as reply_policy
from policies import slot_preference
from policies.schema import PaymentHandoff
from workflows.case_sending import HELP_TEMPLATE, SendingSteps
from workflows.case_versions import OFFER_PREFERENCE_PATCH, OPT_OUT_CLARIFY_PATCH, PAYMENT_HANDOFF_PATCH

OPT_OUT_CLARIFY_TEMPLATE = "__opt_out_clarify__"  # the policy's opt_out_clarification text

# how long a send blocked by an opt-out waits for the STOP that caused it (signalled just after it was recorded)
OPT_OUT_GRACE = timedelta(seconds=30)
CONSENT_AND_HELP = frozenset({ReplyIntent.opt_out, ReplyIntent.opt_in, ReplyIntent.help})
OPT_OUT_ONLY = frozenset({ReplyIntent.opt_out})


class ConversationSteps(SendingSteps):
    opt_out_clarified = False  # the one clarification of an opt-out word inside other words was sent
    preference: slot_preference.SlotPreference | None = None  # the day / time the customer last asked for
    last_reply_at: datetime | None = None

    async def _next_reply(self, answers: frozenset[ReplyIntent] = CONSENT_AND_HELP) -> ReplyUnderstanding | None:
        """Take the next queued reply and understand it. One whose intent is in `answers` is answered here (an
        opt-out is recorded, confirmed once and closes the case) and None comes back: the stage goes on with
        what it was doing. Any other reply comes back understood, for the stage to act on."""
        reply = self.replies.pop(0)
        self.last_reply_at = reply.received_at
        understanding = await self._understand(reply)
        if understanding.clarify_opt_out and not self.opt_out_clarified and workflow.patched(OPT_OUT_CLARIFY_PATCH):
            # not a revocation: ask once, then go on with what the rest of the reply said
            self.opt_out_clarified = True
            await self._send(f"clarify{self.reply_count}", OPT_OUT_CLARIFY_TEMPLATE, [reply.channel],
                             created=workflow.now(), purpose="transactional")
        if understanding.intent in answers:
            await self._consent_or_help(reply, understanding)
            return None
        if understanding.intent == ReplyIntent.payment:
            if self.program.payments is not None:
                await self._payment_handoff(reply, self.program.payments)
                return None
            # no hand-off named: a person answers it, as any question the case cannot
            return understanding.model_copy(update={"intent": ReplyIntent.question, "needs_review": True})
        if understanding.intent in (ReplyIntent.reschedule, ReplyIntent.pick_slot, ReplyIntent.question):
            wish = slot_preference.from_reply(reply.text, reply.received_at, self._reader_timezone())
            if wish is not None and workflow.patched(OFFER_PREFERENCE_PATCH):
                self.preference = wish
        return understanding

    async def _payment_handoff(self, reply: Reply, handoff: PaymentHandoff) -> None:
        """Money is never argued by the case: the program's payment link in its approved template, or a staff task
        and an approved "someone will follow up"; no amount is ever stated."""
        step = f"payment{self.reply_count}"
        self._note("reply about money: " + ("payment link sent" if handoff.link_url else "handed to staff"))
        self._ledger("payment_handoff", reason="link" if handoff.link_url else "staff_task")
        if handoff.staff_task:
            await self._crm(step, {}, note=f"Customer asked about a fee, deposit, charge or refund by "
                                           f"{reply.channel.value}; handed to staff",
                            owner_task="Customer asked about a fee, deposit, charge or refund: follow up")
        await self._send(step, handoff.template, [reply.channel], created=workflow.now(), purpose="transactional",
                         extra={"payment_link": handoff.link_url} if handoff.link_url else None)

    def _reader_timezone(self) -> str:
        return self.appointment.contact.timezone or self.program.send.default_timezone

    def _model_may_classify(self) -> bool:
        """The policy asks for the reply model and the starter did not say the worker has none."""
        return self.program.replies.use_model and self.inp.reply_model is not False

    async def _understand(self, reply: Reply) -> ReplyUnderstanding:
        self.reply_count += 1
        offered = [s.start for s in self.state.offered]
        timezone = self.appointment.contact.timezone or self.program.send.default_timezone
        review_below = self.program.replies.review_below_confidence
        payments = workflow.patched(PAYMENT_HANDOFF_PATCH)
        if self.version.classifies_replies(self._model_may_classify()):
            opted_out = bool({"*", reply.channel.value} & self.opted_out_channels)
            understanding = reply_policy.understand(reply_policy.ReplyInput(
                text=reply.text, offered=offered, now=reply.received_at, timezone=timezone,
                review_below=review_below, opted_out=opted_out, payments=payments))
            self.pending_ledger.append(LedgerEvent(
                event_id=f"{reply.reply_id}:reply_received", case_id=self.inp.case_id, type="reply_received",
                at=reply.received_at, source="reply", appointment_type="-", channel=reply.channel,
                reason=understanding.intent.value, program=self.program.name,
            ))
        else:
            understanding = await common.run_activity(MessagingActivities.understand_reply, UnderstandRequest(
                case_id=self.inp.case_id,
                contact_key=self.inp.contact_key,
                reply=reply,
                offered=offered,
                timezone=timezone,
                review_below=review_below,
                use_model=self.program.replies.use_model,
                payments=payments,
            ))
        self._note(f"reply understood as {understanding.intent.value}")
        return understanding

    async def _consent_or_help(self, reply: Reply, understanding: ReplyUnderstanding) -> None:
        if understanding.intent == ReplyIntent.help:
            await self._send(f"help{self.reply_count}", HELP_TEMPLATE, [reply.channel], created=workflow.now(),
                             purpose="transactional")
            return
        status: Literal["opted_out", "opted_in"] = \
            "opted_out" if understanding.intent == ReplyIntent.opt_out else "opted_in"
        change = ConsentChange(event_id=reply.reply_id, case_id=self.inp.case_id, contact_key=self.inp.contact_key,
                               appointment=self.appointment, resolved=common.slim(self.inp.resolved), status=status,
                               channel=reply.channel, evidence=reply.text[:500], at=reply.received_at)
        if status == "opted_out":
            await self._finish_after(ConsentActivities.record_consent, change, Stage.opted_out, "customer opted out")
        change.ledger_events = self._carry()
        await common.run_activity(ConsentActivities.record_consent, change)

    async def _opted_out_mid_send(self) -> None:
        """The pre-send check met an opt-out this case was not told about. Its cause is usually a STOP queued
        behind this send, or signalled a moment after the consent ledger recorded it: answer that first, so the
        customer gets their one confirmation. An opt-out fanned out from another case arrives as `opted_out`
        and needs no answer here; a case that has sent nothing yet met an old opt-out and closes at once."""
        if not self.replies and self.opt_out is None and self.state.messages_sent > 0:
            await self._wait(workflow.now() + OPT_OUT_GRACE, replies=True)
        self._raise_if_closing()
        while self.replies:
            # only a STOP is answered: the case closes as opted out whatever else was said
            await self._next_reply(answers=OPT_OUT_ONLY)
