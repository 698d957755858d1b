"""Sending one logical message of a case: through deferrals (quiet hours, caps) without ever dropping it, and
what a refusal means (an opt-out closes the case, a channel nobody can deliver to asks a human).

Passed through the sandbox like every case module: see workflows/case_base.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from temporalio import workflow

import workflows.common as common
from activities.messaging import MessagingActivities
from domain.case import SendRequest
from domain.models import Channel, Stage
from policies import review as review_policy
from policies import sequences as sequence_policy
from policies.schema import Segment
from workflows.case_base import CaseBase
from workflows.case_versions import DEFERRAL_HEARS_REPLIES_PATCH, STOP_PATCH, UNREACHABLE_PATCH, UNREACHABLE_RETRY_PATCH

HELP_TEMPLATE = "__help__"


class SendingSteps(CaseBase):
    def _channels(self) -> list[Channel]:
        seq = sequence_policy.sequence_for(self.program, Segment(self.state.segment or Segment.first_time.value))
        return list(seq.steps[0].channels)

    def _reply_wait(self) -> float:
        seq = sequence_policy.sequence_for(self.program, Segment(self.state.segment or Segment.first_time.value))
        return seq.reply_wait_hours

    async def _send(self, step: str, template: str, channels: list[Channel], created: datetime,
                    first: bool = False, extra: dict[str, str] | None = None,
                    purpose: Literal["recovery", "transactional", "reminder"] = "recovery",
                    yields_to_replies: bool = False) -> None:
        """Send one logical message; wait through deferrals (quiet hours, caps) without ever dropping it.
        `yields_to_replies`: a sequence step, which a reply during its deferral replaces (the conversation
        takes over); an opt-out wakes every deferral."""
        variables = {
            "slot_list": "\n".join(f"{i + 1}) {s.start.isoformat(timespec='minutes')}"
                                   for i, s in enumerate(self.state.offered)),
            **(extra or {}),
        }
        request = SendRequest(
            message_id=f"{self.inp.case_id}-{step}", case_id=self.inp.case_id, contact_key=self.inp.contact_key,
            appointment=self.appointment, template_id=template, channels=channels,
            resolved=common.slim(self.inp.resolved, None if template == HELP_TEMPLATE else template),
            variables=variables, first_message=first, created_at=created,
            ledger={"segment": self.state.segment, "arm": self.state.arm}, purpose=purpose, kind=self.state.kind,
            ledger_events=self._carry(),
        )
        while True:
            self._raise_if_closing()
            result = await common.run_activity(MessagingActivities.send_message, request)
            request.ledger_events = []  # written by the first attempt
            if result.opted_out is not None:
                self.opted_out_channels = set(result.opted_out)
            if result.status == "sent":
                self.resending = None
                self.state.messages_sent += 0 if result.duplicate else 1
                how = " (possibly delivered: not sent again by another channel)" if result.ambiguous else ""
                self._note(f"sent {template} by {result.channel.value if result.channel else '?'}{how}")
                return
            if result.status == "deferred" and result.next_allowed_at is not None:
                self._note(f"deferred {template}: {result.reason}")
                await self._set_stage(self.state.stage, next_action_at=result.next_allowed_at)
                hears = yields_to_replies and workflow.patched(DEFERRAL_HEARS_REPLIES_PATCH)
                await self._wait(result.next_allowed_at, replies=hears)
                if hears and self.replies:
                    self._raise_if_closing()
                    self._note(f"not sent {template}: the customer replied while it waited")
                    return
                continue
            if result.status == "blocked":
                self._note(f"not sent {template}: {result.reason}")
                if "opted out" in result.reason:
                    if workflow.patched(STOP_PATCH):
                        await self._opted_out_mid_send()
                    await self._finish(Stage.opted_out, result.reason)
                if purpose == "recovery":
                    await self._finish(Stage.suppressed, result.reason)
                return
            self._note(f"{result.status} {template}: {result.reason}")
            if (result.status == "failed" and template != HELP_TEMPLATE and purpose != "reminder"
                    and not self.unreachable_reviewed
                    and workflow.patched(UNREACHABLE_PATCH)):
                # every approved channel of the step refused it (invalid number, landline ...): a human decides,
                # once per case
                self.unreachable_reviewed = True
                await self._review(self._route(
                    "unreachable", f"could not send {template}: {result.reason}; approving sends it again now"),
                    resume=self.state.stage)
                if workflow.patched(UNREACHABLE_RETRY_PATCH):
                    # the reviewer may have fixed the cause (the number, the channel's consent): try it again now
                    # rather than leave the case silent until the next step
                    self.resending = template
                    self._note(f"approved after a failed send: sending {template} again")
                    request.appointment = self.appointment
                    continue
            elif result.status == "failed" and self.resending == template:
                self.resending = None
                await self._review(self._route(
                    "unreachable", f"sent {template} again after approval and it failed again: {result.reason}; "
                                   "approving goes on with the rest of the sequence"),
                    resume=self.state.stage)
            self.resending = None
            return

    # ------------------------------------------------------------------ defined by the stages built on this one

    async def _opted_out_mid_send(self) -> None:
        """Answer the STOP that blocked a send (ConversationSteps)."""
        raise NotImplementedError

    async def _review(self, route: review_policy.ReviewRoute, resume: Stage = Stage.recovering) -> None:
        """Hold the case for a human (ReviewSteps)."""
        raise NotImplementedError
