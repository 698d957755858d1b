"""Before and around the miss, against a real Temporal dev server: the watching stage's confirmation and
reminders, replies C / R / cancel, cancellations and changes by hand, owner approval for risky contacts, the CRM
record at every end, owner alerts and default values."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.case import AdminCommand, CaseState
from domain.models import Appointment, Channel, EventType, Reply, Stage
from policies.schema import PolicyFile, Reminder, WatchMessage, WatchRules
from tests.engine.conftest import Stack
from tests.helpers import appointment, default_program, event, eventually, fast_policy
from workflows.case import RecoveryCaseWorkflow


def watching_policy(**program: object) -> PolicyFile:
    policy = fast_policy(**program)
    default_program(policy).watch = WatchRules(
        confirmation=WatchMessage(template="appointment_confirm", channels=[Channel.sms, Channel.email]),
        reminders=[Reminder(before_minutes=60, template="appointment_reminder", channels=[Channel.sms])],
    )
    return policy


async def state_of(stack: Stack, case_id: str) -> CaseState:
    return await stack.cases.handle(case_id).query(RecoveryCaseWorkflow.state_query)


async def reply(stack: Stack, case_id: str, text: str) -> None:
    await stack.cases.submit_reply(
        Reply(reply_id=f"r-{uuid.uuid4().hex[:10]}", channel=Channel.sms, text=text, received_at=datetime.now(UTC)),
        sender=None, case_id=case_id)


async def booked(stack: Stack, hours_ahead: float = 3, **fields: object) -> str:
    return (await booked_appt(stack, hours_ahead, **fields))[0]


async def booked_appt(stack: Stack, hours_ahead: float = 3, **fields: object) -> tuple[str, Appointment]:
    start = (datetime.now(UTC) + timedelta(hours=hours_ahead)).replace(microsecond=0)
    appt = appointment(start=start, **fields)  # type: ignore[arg-type]
    case_id = (await stack.cases.submit_event(event(appt, EventType.booked))).case_id
    assert case_id
    return case_id, appt


def templates_sent(stack: Stack, case_id: str) -> list[str]:
    return [str(m["template_id"]).split("@")[0] for m in stack.deps.outbox.messages(case_id)]


async def test_booking_gets_a_confirmation_and_reply_c_confirms(stack: Stack) -> None:
    stack.write_policy(watching_policy())
    case_id = await booked(stack)
    await eventually(lambda: asyncio.sleep(0, templates_sent(stack, case_id)), lambda t: t == ["appointment_confirm"])
    state = await eventually(lambda: state_of(stack, case_id), lambda s: s.confirmation != "none")
    assert state.stage == Stage.watching and state.confirmation == "sent"
    await reply(stack, case_id, "C")
    state = await eventually(lambda: state_of(stack, case_id), lambda s: s.confirmation == "confirmed")
    assert state.stage == Stage.watching and state.confirmed_at is not None
    await reply(stack, case_id, "Sí, confirmo")  # a second confirmation changes nothing
    await asyncio.sleep(0.5)
    assert templates_sent(stack, case_id) == ["appointment_confirm"]  # no reminder yet: it is two hours away


async def test_cancel_by_sms_while_watching_is_heard_audited_and_alerted(stack: Stack) -> None:
    stack.write_policy(watching_policy())
    case_id = await booked(stack, value=80)
    await eventually(lambda: asyncio.sleep(0, templates_sent(stack, case_id)), lambda t: len(t) == 1)
    await reply(stack, case_id, "no puedo ir, cancela la cita por favor")
    # the verdict is written while the case is still checking; the kind follows it once the check is done
    state = await eventually(lambda: state_of(stack, case_id),
                             lambda s: s.verdict is not None and s.stage not in (Stage.watching, Stage.checking))
    assert state.confirmation == "cancelled"
    assert state.verdict == "late_cancel"  # three hours ahead: inside the program's 24 h late-cancel window
    assert state.kind.value == "late_cancel"  # so the recovery speaks of a late cancellation
    audit = stack.deps.reviews.audit_log(case_id)
    assert [(a["actor"], a["action"]) for a in audit] == [("customer:sms", "reply_cancel")]
    alerts = await eventually(lambda: asyncio.sleep(0, stack.deps.alerts.alerts(kind="cancellation")),
                              lambda rows: any(r["case_id"] == case_id for r in rows))
    assert any(r["owner_id"] == "owner-1" for r in alerts)


async def test_reply_r_while_watching_offers_new_times(stack: Stack) -> None:
    stack.write_policy(watching_policy())
    case_id = await booked(stack)
    await eventually(lambda: asyncio.sleep(0, templates_sent(stack, case_id)), lambda t: len(t) == 1)
    await reply(stack, case_id, "R")
    state = await eventually(lambda: state_of(stack, case_id), lambda s: s.stage == Stage.offering)
    assert state.kind.value == "reschedule_request" and state.offered
    assert templates_sent(stack, case_id)[-1] == "offer_slots"


async def test_stop_while_watching_opts_out_and_is_written_to_the_crm(stack: Stack) -> None:
    policy = watching_policy()
    stack.write_policy(policy)
    case_id, appt = await booked_appt(stack, contact_id=f"c-{uuid.uuid4().hex[:8]}")
    appt.campaign = "spring-promo"
    await eventually(lambda: asyncio.sleep(0, templates_sent(stack, case_id)), lambda t: len(t) == 1)
    await reply(stack, case_id, "STOP")
    final: CaseState = await asyncio.wait_for(stack.cases.handle(case_id).result(), 60)  # type: ignore[assignment]
    assert final.stage == Stage.opted_out
    fields = stack.deps.crm.read_fields(appt.contact.contact_id, appt.appointment_id)
    assert fields["recovery_status"] == "opted_out"
    assert fields["outcome"] == "no_show"


async def test_campaign_is_written_with_every_crm_update(stack: Stack) -> None:
    stack.write_policy(watching_policy())
    start = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    appt = appointment(start=start).model_copy(update={"campaign": "spring-promo"})
    case_id = (await stack.cases.submit_event(event(appt, EventType.booked))).case_id
    assert case_id
    await eventually(lambda: asyncio.sleep(0, templates_sent(stack, case_id)), lambda t: len(t) == 1)
    await reply(stack, case_id, "confirm")
    fields = await eventually(
        lambda: asyncio.sleep(0, stack.deps.crm.read_fields(appt.contact.contact_id, appt.appointment_id)),
        lambda f: f.get("recovery_status") == "confirmed")
    assert fields["source_campaign"] == "spring-promo"


async def test_admin_cancel_closes_a_watched_case_and_refusals_are_clear(stack: Stack) -> None:
    stack.write_policy(watching_policy())
    case_id = await booked(stack)
    handle = stack.cases.handle(case_id)
    await eventually(lambda: state_of(stack, case_id), lambda s: s.stage == Stage.watching)
    await handle.execute_update(RecoveryCaseWorkflow.admin_command, AdminCommand(
        command_id="cmd-1", action="mark_no_show", actor="admin@example.com"))
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(RecoveryCaseWorkflow.admin_command, AdminCommand(
            command_id="cmd-1", action="mark_no_show", actor="admin@example.com"))  # the same command again
    await handle.execute_update(RecoveryCaseWorkflow.admin_command, AdminCommand(
        command_id="cmd-2", action="cancel", actor="admin@example.com", reason="customer phoned"))
    final: CaseState = await asyncio.wait_for(handle.result(), 60)  # type: ignore[assignment]
    assert final.stage == Stage.cancelled and final.close_reason == "cancelled by staff"


async def test_prior_no_show_asks_the_owner_before_any_outreach(stack: Stack) -> None:
    policy = fast_policy()
    default_program(policy).rebooking.owner_approval_prior_no_shows = 1
    default_program(policy).review.repeat_no_show_count = 5  # the review rules alone would not ask
    stack.write_policy(policy)
    contact = f"c-{uuid.uuid4().hex[:8]}"
    # a prior no-show is one whose appointment began before this one's (the helper's starts share a second)
    earlier = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)
    first = (await stack.cases.submit_event(event(appointment(contact_id=contact, start=earlier),
                                                  EventType.no_show))).case_id
    assert first
    # past its attendance check and on to outreach: its verdict is in the store the second case reads
    await eventually(lambda: state_of(stack, first), lambda s: s.verdict == "no_show" and s.stage in (
        Stage.recovering, Stage.offering, Stage.awaiting_review) and s.messages_sent >= 1)
    second = (await stack.cases.submit_event(event(appointment(contact_id=contact), EventType.no_show))).case_id
    assert second
    state = await eventually(lambda: state_of(stack, second),
                             lambda s: s.stage in (Stage.awaiting_review, Stage.recovering, Stage.offering))
    assert state.stage == Stage.awaiting_review
    assert state.review is not None
    assert any("owner approval before any outreach: high risk: 1 prior no-shows" in r for r in state.review.reasons)
    assert stack.deps.outbox.messages(second) == []
    pending = await eventually(
        lambda: asyncio.sleep(0, [r for r in stack.deps.reviews.pending() if r["case_id"] == second]), bool)
    assert "prior no-shows" in str(pending[0]["reasons"])  # what the reviewer is shown


async def test_no_price_gets_the_programs_default_value(stack: Stack) -> None:
    stack.write_policy(fast_policy(default_values={"consult*": 175.0}))
    appt = appointment(value=0)
    case_id = (await stack.cases.submit_event(event(appt, EventType.no_show))).case_id
    assert case_id
    await eventually(lambda: state_of(stack, case_id), lambda s: s.stage != Stage.checking)
    opened = await eventually(lambda: asyncio.sleep(0, stack.deps.ledger.events(case_id)),
                              lambda evs: any(e.type == "case_opened" for e in evs))
    assert next(e for e in opened if e.type == "case_opened").value == 175.0
