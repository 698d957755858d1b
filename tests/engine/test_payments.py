"""Replies about money against a real Temporal dev server: the case hands them to the program's payment link or
to staff and never argues or states a fee; a program that names no hand-off sends them to a reviewer."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from connectors.local.staff_inbox import StaffInbox
from domain.case import CaseState
from domain.models import Channel, EventType, Reply, Stage
from policies.messages import lint
from policies.schema import PaymentHandoff
from tests.engine.conftest import Stack
from tests.helpers import appointment, default_program, event, eventually, fast_policy
from workflows.case import RecoveryCaseWorkflow

LINK = "https://pay.example.com/riverside"
FEE_CODES = {"fee_billing", "implied_fee"}


async def recovering_case(stack: Stack, handoff: PaymentHandoff | None) -> str:
    policy = fast_policy()
    default_program(policy).payments = handoff
    stack.write_policy(policy)
    case_id = (await stack.cases.submit_event(event(appointment(), EventType.no_show))).case_id
    assert case_id
    await eventually(lambda: asyncio.sleep(0, stack.deps.outbox.messages(case_id)), lambda m: len(m) == 1)
    return case_id


async def say(stack: Stack, case_id: str, text: str) -> None:
    await stack.cases.submit_reply(Reply(reply_id=f"r-{uuid.uuid4().hex[:10]}", channel=Channel.sms, text=text,
                                         received_at=datetime.now(UTC)), sender=None, case_id=case_id)


async def state(stack: Stack, case_id: str) -> CaseState:
    return await stack.cases.handle(case_id).query(RecoveryCaseWorkflow.state_query)


def sent(stack: Stack, case_id: str) -> list[dict[str, object]]:
    return stack.deps.outbox.messages(case_id)


async def test_a_fee_question_gets_the_payment_link_and_the_case_goes_on(stack: Stack) -> None:
    case_id = await recovering_case(stack, PaymentHandoff(link_url=LINK))
    await say(stack, case_id, "Will I be charged a fee for missing it?")
    messages = await eventually(lambda: asyncio.sleep(0, sent(stack, case_id)), lambda m: len(m) == 2)
    answer = messages[-1]
    assert str(answer["template_id"]).startswith("payment_link") and LINK in str(answer["body"])
    # no fee stated: the words around the program's link pass the fee linter
    assert not FEE_CODES & {f.code for f in lint(str(answer["body"]).replace(LINK, ""), Channel.sms).problems}
    st = await state(stack, case_id)
    assert st.stage == Stage.recovering and st.review is None  # not argued, not sent to a reviewer either
    assert [e.reason for e in stack.deps.ledger.events(case_id) if e.type == "payment_handoff"] == ["link"]
    await say(stack, case_id, "ok thanks, can we find another time?")  # the conversation goes on
    await eventually(lambda: state(stack, case_id), lambda s: s.stage == Stage.offering)


async def test_a_refund_question_in_spanish_becomes_a_staff_task(stack: Stack) -> None:
    case_id = await recovering_case(stack, PaymentHandoff(staff_task=True))
    await say(stack, case_id, "¿me van a devolver el depósito?")
    messages = await eventually(lambda: asyncio.sleep(0, sent(stack, case_id)), lambda m: len(m) == 2)
    assert str(messages[-1]["template_id"]).startswith("payment_followup")
    assert not FEE_CODES & {f.code for f in lint(str(messages[-1]["body"]), Channel.sms).problems}
    tasks = [i for i in StaffInbox(stack.deps.db).items() if i["kind"] == "staff_task"
             and "fee, deposit, charge or refund" in str(i["text"])]
    assert len(tasks) == 1
    assert (await state(stack, case_id)).stage == Stage.recovering


async def test_without_a_hand_off_a_money_question_goes_to_a_person(stack: Stack) -> None:
    case_id = await recovering_case(stack, None)
    await say(stack, case_id, "Will I be charged a fee for missing it?")
    st = await eventually(lambda: state(stack, case_id), lambda s: s.stage == Stage.awaiting_review)
    assert st.review is not None
    assert len(sent(stack, case_id)) == 1  # nothing said about money
