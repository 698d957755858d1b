"""A review decision answers with where the case went, and approving a case whose first message no channel
could deliver sends it again at once (or says plainly that it failed again), against a real Temporal server."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from connectors.contract import OutboundMessage, PermanentProviderError, SendReceipt
from connectors.local.outbox import LocalOutbox
from domain.case import ReviewDecision, ReviewResult
from domain.models import Channel, EventType, Stage
from tests.engine.conftest import Stack
from tests.engine.test_case_workflow import reach
from tests.helpers import appointment, event, eventually
from workflows.case import RecoveryCaseWorkflow


@dataclass
class RefusingChannel:
    """A provider that refuses the first `refusals` sends as an invalid number (Twilio error 21211), then
    delivers through the local outbox."""

    outbox: LocalOutbox
    refusals: int
    attempts: list[str] = field(default_factory=list)

    def send(self, message: OutboundMessage) -> SendReceipt:
        self.attempts.append(message.message_id)
        if len(self.attempts) <= self.refusals:
            raise PermanentProviderError("invalid 'To' phone number", code="21211")
        return self.outbox.send(message)


async def decide(stack: Stack, case_id: str, decision: str = "approve") -> ReviewResult:
    waiting = await reach(stack, case_id, Stage.awaiting_review)
    assert waiting.review is not None
    result: ReviewResult = await stack.cases.handle(case_id).execute_update(
        RecoveryCaseWorkflow.review_decision,
        ReviewDecision(review_id=waiting.review.review_id, decision=decision, reviewer="r@example.com"),  # type: ignore[arg-type]
    )
    return result


async def test_a_decision_answers_the_new_stage(stack: Stack) -> None:
    outcome = await stack.cases.submit_event(event(appointment(), EventType.booked))  # unclear: goes to review
    assert outcome.case_id
    result = await decide(stack, outcome.case_id)
    assert result.accepted and result.stage != Stage.awaiting_review
    assert result.stage in (Stage.recovering, Stage.offering), result
    assert result.detail

    rejected = await stack.cases.submit_event(event(appointment(categories=["medical"]), EventType.no_show))
    assert rejected.case_id
    closed = await decide(stack, rejected.case_id, "reject")
    assert closed.stage == Stage.closed_by_reviewer and "closed" in (closed.detail or "")


async def test_approving_after_a_failed_first_message_sends_it_again(stack: Stack) -> None:
    refusing = RefusingChannel(stack.deps.outbox, refusals=1)
    stack.deps.channels[Channel.sms] = refusing  # type: ignore[assignment]  # the worker's activities share the dict
    outcome = await stack.cases.submit_event(event(appointment(email=None), EventType.no_show))
    case_id = outcome.case_id
    assert case_id
    waiting = await reach(stack, case_id, Stage.awaiting_review)
    assert waiting.review is not None and any("could not send" in r for r in waiting.review.reasons)
    assert stack.deps.outbox.messages(case_id) == []

    result = await decide(stack, case_id)
    assert result.stage == Stage.recovering and "sent again" in (result.detail or "")
    sent = await eventually(lambda: asyncio.sleep(0, stack.deps.outbox.messages(case_id)), lambda m: len(m) == 1)
    assert str(sent[0]["template_id"]).startswith("missed_first")
    assert len(refusing.attempts) == 2


async def test_a_second_failure_after_approval_comes_back_for_review(stack: Stack) -> None:
    stack.deps.channels[Channel.sms] = RefusingChannel(stack.deps.outbox, refusals=99)  # type: ignore[assignment]
    outcome = await stack.cases.submit_event(event(appointment(email=None), EventType.no_show))
    case_id = outcome.case_id
    assert case_id
    first = await decide(stack, case_id)
    assert "sent again" in (first.detail or "")
    again = await eventually(lambda: stack.cases.handle(case_id).query(RecoveryCaseWorkflow.state_query),
                             lambda s: s.review is not None and any("failed again" in r for r in s.review.reasons))
    assert again.stage == Stage.awaiting_review
    assert stack.deps.outbox.messages(case_id) == []
