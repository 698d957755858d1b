"""The recovery sequence: the segment's (or the experiment arm's) messages at their delays, until the customer
replies; then the conversation those replies start, until the case books, stops or goes quiet. The holdout arm
sends nothing and only notices a rebooking the customer makes alone.

Passed through the sandbox like every case module: see workflows/case_base.py.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from activities.crm import CrmActivities
from domain.models import ReplyIntent, Stage
from policies import messages as message_policy
from policies import sequences as sequence_policy
from policies.experiments import assign_arm, ledger_arm
from policies.schema import Segment
from workflows.case_booking import BookingSteps
from workflows.case_versions import OFFER_IN_SEQUENCE_PATCH


class SequenceSteps(BookingSteps):
    async def _recover(self) -> None:
        segment = Segment(self.state.segment) if self.state.segment else sequence_policy.segment_for(
            self.program, self.appointment, self.prior_no_shows
        )
        experiment = self.program.experiment
        first_template: str | None = None
        if experiment is not None:
            arm = experiment.arm(assign_arm(self.inp.case_id, experiment))
            self.state.arm = ledger_arm(experiment.name, arm.name)
            if arm.is_holdout:
                await self._hold_out(sequence_policy.sequence_for(self.program, segment).reply_wait_hours)
            if arm.sequence and arm.sequence in {s.value for s in Segment}:
                segment = Segment(arm.sequence)
            first_template = arm.template_id
        self.state.segment = segment.value
        sequence = sequence_policy.sequence_for(self.program, segment)
        await self._set_stage(Stage.recovering, passing=True)  # the first step's move below has its due time
        anchor = workflow.now()
        for index, step in enumerate(sequence.steps):
            due = anchor + timedelta(minutes=step.delay_minutes)
            self.state.step = index
            await self._set_stage(Stage.recovering, next_action_at=due)
            while workflow.now() < due:
                await self._wait(due, replies=True, choice=bool(self.state.offered))
                self._raise_if_closing()
                if await self._answered():
                    return
            template = first_template if index == 0 and first_template else step.template
            extra: dict[str, str] = {}
            if message_policy.needs_offer(self.inp.resolved.templates, template) \
                    and workflow.patched(OFFER_IN_SEQUENCE_PATCH):
                # the message shows slots or the booking link: hold them first, so the words the approver
                # signed off are the words sent
                if not self.state.offered:
                    await self._hold_offer()
                extra = self._offer_variables()
            await self._send(f"step{index}", template, list(step.channels), first=index == 0, created=due,
                             extra=extra, yields_to_replies=True)
            anchor = workflow.now()
        reply_due = workflow.now() + timedelta(hours=sequence.reply_wait_hours)
        await self._set_stage(Stage.recovering, next_action_at=reply_due)
        await self._wait(reply_due, replies=True, choice=bool(self.state.offered))
        self._raise_if_closing()
        if await self._answered():
            return
        await self._finish(Stage.unrecovered, "no reply to the sequence")

    async def _answered(self) -> bool:
        """A reply, or a pick on the booking link a sequence message carried, takes the case on from here."""
        if self.replies:
            await self._converse()
            return True
        if self.slot_choice is not None and self.state.offered:
            await self._offer_and_book()
            return True
        return False

    async def _hold_out(self, wait_hours: float) -> None:
        """The experiment's no-contact arm: send nothing, only notice a rebooking the customer makes alone."""
        due = workflow.now() + timedelta(hours=wait_hours)
        await self._set_stage(Stage.recovering, next_action_at=due)
        while workflow.now() < due:
            await self._wait(due, replies=False)
            self._raise_if_closing()
        await self._finish(Stage.unrecovered, "holdout: no contact by design")

    async def _converse(self) -> None:
        """Answer replies until the case books, stops or goes quiet."""
        while True:
            self._raise_if_closing()
            if not self.replies:
                quiet_due = workflow.now() + timedelta(hours=self._reply_wait())
                await self._set_stage(self.state.stage, next_action_at=quiet_due)
                await self._wait(quiet_due, replies=True)
                self._raise_if_closing()
                if not self.replies:
                    await self._finish(Stage.unrecovered, "conversation went quiet")
            understanding = await self._next_reply()
            if understanding is None:
                continue
            intent = understanding.intent
            if intent == ReplyIntent.wrong_person:
                await self._finish_after(
                    CrmActivities.update_crm,
                    self._crm_update("wrong_person", {"risk_flag": "wrong_person"}, note="Recipient says wrong person"),
                    Stage.suppressed, "wrong person",
                )
            if understanding.needs_review or intent in (
                ReplyIntent.dispute, ReplyIntent.question, ReplyIntent.running_late, ReplyIntent.other
            ):
                await self._review(self._route(
                    "dispute" if intent == ReplyIntent.dispute else "reply",
                    f"customer reply needs a human: {intent.value} ({understanding.reason})",
                ))
                if self.replies:
                    continue
                await self._offer_and_book()
                return
            if intent == ReplyIntent.cancel:
                await self._finish(Stage.unrecovered, "customer declined to rebook")
            await self._offer_and_book(first_pick=understanding if intent == ReplyIntent.pick_slot else None)
            return
