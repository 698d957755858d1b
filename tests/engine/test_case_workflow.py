"""The case workflow end to end against a real Temporal dev server, real activities and local connectors."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from bench import actions
from domain.case import CaseState, ReviewDecision
from domain.models import AttendanceSignal, Channel, EventType, Reply, SignalKind, Stage
from tests.engine.conftest import Stack
from tests.helpers import appointment, default_program, event, eventually, fast_policy
from workflows.case import RecoveryCaseWorkflow


async def state_of(stack: Stack, case_id: str) -> CaseState:
    return await stack.cases.handle(case_id).query(RecoveryCaseWorkflow.state_query)


async def reach(stack: Stack, case_id: str, *stages: Stage, timeout: float = 30) -> CaseState:
    return await eventually(lambda: state_of(stack, case_id), lambda s: s.stage in stages, timeout=timeout)


async def reply(stack: Stack, case_id: str, text: str) -> None:
    await stack.cases.submit_reply(
        Reply(reply_id=f"r-{uuid.uuid4().hex[:10]}", channel=Channel.sms, text=text, received_at=datetime.now(UTC)),
        sender=None, case_id=case_id,
    )


async def result(stack: Stack, case_id: str) -> CaseState:
    return await asyncio.wait_for(stack.cases.handle(case_id).result(), timeout=60)  # type: ignore[return-value]


def no_follow(stack: Stack) -> None:
    policy = fast_policy()
    default_program(policy).rebooking.follow_new_appointment = False
    stack.write_policy(policy)


async def test_no_show_is_recovered_by_picking_a_slot(stack: Stack) -> None:
    no_follow(stack)
    appt = appointment()
    outcome = await stack.cases.submit_event(event(appt, EventType.no_show))
    case_id = outcome.case_id
    assert outcome.status == "accepted" and case_id and case_id.startswith("case-")
    assert appt.contact.phone not in case_id and appt.appointment_id not in case_id

    await eventually(lambda: asyncio.sleep(0, stack.deps.outbox.messages(case_id)), lambda m: len(m) >= 1)
    await reach(stack, case_id, Stage.recovering)
    await reply(stack, case_id, "yes please, can we find another time?")
    offered = await reach(stack, case_id, Stage.offering)
    assert len(offered.offered) == 3
    await reply(stack, case_id, "2")
    final = await result(stack, case_id)

    assert final.stage == Stage.confirmed
    assert final.new_appointment_start == offered.offered[1].start
    booked = stack.deps.calendar.appointment(final.new_appointment_id or "")
    assert booked is not None and booked["status"] == "booked"
    templates = [m["template_id"] for m in stack.deps.outbox.messages(case_id)]
    assert templates[0].startswith("missed_first") and templates[-1].startswith("confirm_booking")
    assert any(t.startswith("offer_slots") for t in templates)
    fields = stack.deps.crm.read_fields(appt.contact.contact_id, appt.appointment_id)
    assert fields["recovery_status"] == "rebooked" and fields["outcome"] == "no_show"
    types = [e.type for e in stack.deps.ledger.events(case_id)]
    for expected in ("case_opened", "verdict", "message_sent", "reply_received", "rebooked", "case_closed"):
        assert expected in types
    # what it cost (Temporal Cloud actions, counted as bench/actions.py does): replies classified in the workflow,
    # ledger events carried by the activities that run anyway, attributes set at start, upserts on stage changes
    cost = actions.count(await stack.cases.handle(case_id).fetch_history())
    assert cost.actions <= 15, cost
    assert {"understand_reply", "record_ledger"}.isdisjoint(cost.activities), cost.activities
    assert cost.parts["upsert"] == 3, cost.parts  # recovering, offering, confirmed


async def test_same_webhook_five_times_and_reordered_gives_one_case(stack: Stack) -> None:
    appt = appointment()
    booked = event(appt, EventType.booked, event_id="e-booked")
    no_show = event(appt, EventType.no_show, event_id="e-noshow")
    outcomes = await asyncio.gather(*[stack.cases.submit_event(no_show) for _ in range(5)],
                                    stack.cases.submit_event(booked))
    assert len({o.case_id for o in outcomes}) == 1
    case_id = outcomes[0].case_id
    assert case_id
    await reach(stack, case_id, Stage.recovering, Stage.unrecovered)
    runs = [wf async for wf in stack.client.list_workflows(f"WorkflowId = '{case_id}'")]
    assert len(runs) == 1
    # one first message, however many times the webhook came (the stage shows `recovering` as the send starts)
    def first_messages() -> list[dict[str, object]]:
        return [m for m in stack.deps.outbox.messages(case_id) if str(m["template_id"]).startswith("missed_first")]

    await eventually(lambda: asyncio.sleep(0, first_messages()), lambda m: len(m) >= 1)
    assert len(first_messages()) == 1


async def test_attended_case_closes_without_messages(stack: Stack) -> None:
    appt = appointment()
    stack.deps.calendar.add_appointment(appt.appointment_id, appt.calendar_id, appt.owner_id,
                                        appt.contact.contact_id, appt.appointment_type, appt.start, appt.end)
    stack.deps.calendar.add_signal(appt.appointment_id, "check_in", appt.start, source="front_desk")
    outcome = await stack.cases.submit_event(event(appt, EventType.booked))
    assert outcome.case_id
    final = await result(stack, outcome.case_id)
    assert final.stage == Stage.attended
    assert stack.deps.outbox.messages(outcome.case_id) == []


async def test_unclear_attendance_waits_for_review_and_rejects_stale_decisions(stack: Stack) -> None:
    appt = appointment()
    outcome = await stack.cases.submit_event(event(appt, EventType.booked))  # no evidence either way
    case_id = outcome.case_id
    assert case_id
    waiting = await reach(stack, case_id, Stage.awaiting_review)
    assert waiting.review is not None
    assert stack.deps.outbox.messages(case_id) == []  # no outreach before a human decides
    handle = stack.cases.handle(case_id)
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(RecoveryCaseWorkflow.review_decision,
                                    ReviewDecision(review_id="stale-id", decision="approve", reviewer="r@example.com"))
    assert stack.deps.outbox.messages(case_id) == []
    await handle.execute_update(
        RecoveryCaseWorkflow.review_decision,
        ReviewDecision(review_id=waiting.review.review_id, decision="approve", reviewer="r@example.com"),
    )
    await eventually(lambda: asyncio.sleep(0, stack.deps.outbox.messages(case_id)), lambda m: len(m) >= 1)
    with pytest.raises(WorkflowUpdateFailedError):  # a second decision on the same review is refused
        await handle.execute_update(
            RecoveryCaseWorkflow.review_decision,
            ReviewDecision(review_id=waiting.review.review_id, decision="reject", reviewer="r@example.com"),
        )


async def test_reviewer_rejection_closes_the_case(stack: Stack) -> None:
    appt = appointment(categories=["medical"])
    outcome = await stack.cases.submit_event(event(appt, EventType.no_show))
    case_id = outcome.case_id
    assert case_id
    waiting = await reach(stack, case_id, Stage.awaiting_review)
    assert any("sensitive" in r for r in waiting.review.reasons)  # type: ignore[union-attr]
    await stack.cases.handle(case_id).execute_update(
        RecoveryCaseWorkflow.review_decision,
        ReviewDecision(review_id=waiting.review.review_id, decision="reject", reviewer="r@example.com"),  # type: ignore[union-attr]
    )
    final = await result(stack, case_id)
    assert final.stage == Stage.closed_by_reviewer
    assert stack.deps.outbox.messages(case_id) == []


async def test_opt_out_stops_this_case_and_every_other_case_of_the_contact(stack: Stack) -> None:
    policy = fast_policy()
    for seq in default_program(policy).sequences.values():
        seq.reply_wait_hours = 1
        for i, step in enumerate(seq.steps):
            step.delay_minutes = 0 if i == 0 else 60
    stack.write_policy(policy)
    first = appointment(contact_id="c-shared")
    second = appointment(contact_id="c-shared")
    a = (await stack.cases.submit_event(event(first, EventType.no_show))).case_id
    b = (await stack.cases.submit_event(event(second, EventType.no_show))).case_id
    assert a and b
    for case_id in (a, b):
        await eventually(lambda c=case_id: asyncio.sleep(0, stack.deps.outbox.messages(c)), lambda m: len(m) >= 1)
    await reply(stack, a, "STOP")
    final_a = await result(stack, a)
    final_b = await result(stack, b)
    assert final_a.stage == Stage.opted_out and final_b.stage == Stage.opted_out
    sent_after = [m for m in stack.deps.outbox.messages() if m["case_id"] in (a, b)]
    confirmations = [m for m in sent_after if str(m["template_id"]).startswith("consent_")]
    assert len(confirmations) == 1
    assert len(sent_after) == 3  # one first message per case and one confirmation, nothing else
    contact_key = str(stack.deps.outbox.messages(a)[0]["contact_key"])
    assert stack.deps.consent.is_blocked(contact_key, "sms") and stack.deps.consent.is_blocked(contact_key, "email")


async def test_dispute_reply_goes_to_review(stack: Stack) -> None:
    appt = appointment()
    case_id = (await stack.cases.submit_event(event(appt, EventType.no_show))).case_id
    assert case_id
    await reach(stack, case_id, Stage.recovering)
    await eventually(lambda: asyncio.sleep(0, stack.deps.outbox.messages(case_id)), lambda m: len(m) >= 1)
    await reply(stack, case_id, "I was there! I waited 20 minutes")
    waiting = await reach(stack, case_id, Stage.awaiting_review)
    assert waiting.review and any("dispute" in r for r in waiting.review.reasons)


async def test_late_cancellation_is_recovered_and_early_one_is_not_a_no_show(stack: Stack) -> None:
    start = datetime.now(UTC) + timedelta(hours=3)
    late = appointment(start=start)
    case_id = (await stack.cases.submit_event(event(late, EventType.booked))).case_id
    assert case_id
    await reach(stack, case_id, Stage.watching)
    await stack.cases.submit_event(event(late, EventType.cancelled))
    state = await reach(stack, case_id, Stage.recovering, Stage.offering, Stage.unrecovered)
    assert state.kind.value == "late_cancel" and state.verdict == "late_cancel"


async def test_a_business_cancellation_apologises_and_is_never_a_late_cancel(stack: Stack) -> None:
    """The business called the appointment off (a FHIR `prov` reason, Square's CANCELLED_BY_SELLER): not the
    customer's miss. Inside the late-cancel window all the same, the case is a business cancellation, and its
    first words apologise and offer a new time instead of acknowledging "your cancellation"."""
    start = datetime.now(UTC) + timedelta(hours=3)
    appt = appointment(start=start)
    case_id = (await stack.cases.submit_event(event(appt, EventType.booked))).case_id
    assert case_id
    await reach(stack, case_id, Stage.watching)
    at = datetime.now(UTC)
    host = AttendanceSignal(kind=SignalKind.cancellation, at=at, source=appt.source, value="business",
                            participant="host")
    await stack.cases.submit_event(event(appt, EventType.cancelled, at=at, signal=host))
    state = await reach(stack, case_id, Stage.recovering, Stage.offering, Stage.unrecovered)
    assert state.kind.value == "business_cancel" and state.verdict == "cancelled", (state.kind, state.verdict)
    sent = await eventually(lambda: asyncio.sleep(0, [m["template_id"] for m in stack.deps.outbox.messages(case_id)]),
                            lambda t: len(t) >= 1)
    assert str(sent[0]).split("@")[0] == "missed_first.business_cancel", sent


@pytest.mark.slow
async def test_experiment_assigns_arms_and_the_holdout_gets_no_contact(stack: Stack) -> None:
    from policies.experiments import Arm, Experiment, assign_arm

    policy = fast_policy()
    experiment = Experiment(name="tone", arms=[Arm(name="friendly", weight=1, template_id="missed_followup"),
                                               Arm(name="holdout", weight=1)])
    default_program(policy).experiment = experiment
    for seq in default_program(policy).sequences.values():
        for step in seq.steps:
            step.delay_minutes = 0
    stack.write_policy(policy)
    # pick appointments so both arms are present (assignment is a pure function of the case id)
    chosen: dict[str, list[object]] = {"friendly": [], "holdout": []}
    while min(len(v) for v in chosen.values()) < 3:
        appt = appointment()
        arm = assign_arm(stack.cases.case_id(appt.source, appt.appointment_id), experiment)
        if len(chosen[arm]) < 3:
            chosen[arm].append(appt)
    outcomes = [await stack.cases.submit_event(event(a, EventType.no_show))  # type: ignore[arg-type]
                for appts in chosen.values() for a in appts]
    ids = [o.case_id for o in outcomes if o.case_id]
    arms = {case_id: assign_arm(case_id, experiment) for case_id in ids}
    assert sorted(arms.values()) == ["friendly"] * 3 + ["holdout"] * 3
    for case_id, arm in arms.items():
        final = await result(stack, case_id)
        assert final.arm == f"tone/{arm}"
        sent = [str(m["template_id"]).split("@")[0] for m in stack.deps.outbox.messages(case_id)]
        if arm == "holdout":
            assert sent == [] and final.stage == Stage.unrecovered
        else:
            assert sent[0] == "missed_followup"
        assert {e.arm for e in stack.deps.ledger.events(case_id) if e.type == "case_closed"} == {f"tone/{arm}"}


async def test_pick_by_time_and_none_fit_reoffers(stack: Stack) -> None:
    from zoneinfo import ZoneInfo

    no_follow(stack)
    appt = appointment()
    case_id = (await stack.cases.submit_event(event(appt, EventType.reschedule_requested))).case_id
    assert case_id
    first = await reach(stack, case_id, Stage.offering)
    await reply(stack, case_id, "none of those work for me, do you have other times?")
    second = await eventually(lambda: state_of(stack, case_id),
                              lambda s: s.stage == Stage.offering and bool(s.offered)
                              and s.offered[0].start != first.offered[0].start)
    assert {s.start for s in second.offered}.isdisjoint({s.start for s in first.offered})
    target = second.offered[2]
    local = target.start.astimezone(ZoneInfo(appt.contact.timezone or "UTC"))
    text = f"{local.strftime('%A')} at {local.strftime('%-I:%M%p').lower()} works"
    await reply(stack, case_id, text)
    final = await result(stack, case_id)
    assert final.stage == Stage.confirmed and final.new_appointment_start == target.start, (text, final.timeline)


async def test_failed_access_goes_to_review_and_admin_override_skips_it(stack: Stack) -> None:
    failed = appointment(appointment_type="service_call")
    case_a = (await stack.cases.submit_event(event(failed, EventType.failed_access))).case_id
    override = appointment()
    case_b = (await stack.cases.submit_event(event(override, EventType.admin_override))).case_id
    assert case_a and case_b
    waiting = await reach(stack, case_a, Stage.awaiting_review)
    assert waiting.kind.value == "failed_access"
    assert any("failed_access" in r for r in waiting.review.reasons)  # type: ignore[union-attr]
    recovering = await reach(stack, case_b, Stage.recovering, Stage.offering)
    assert recovering.review is None and recovering.kind.value == "admin_override"


async def test_customer_moves_the_new_appointment_again_within_the_cap(stack: Stack) -> None:
    policy = fast_policy()
    default_program(policy).rebooking.max_reschedules = 2
    stack.write_policy(policy)
    appt = appointment()
    case_id = (await stack.cases.submit_event(event(appt, EventType.reschedule_requested))).case_id
    assert case_id
    await reach(stack, case_id, Stage.offering)
    await reply(stack, case_id, "1")
    first = await reach(stack, case_id, Stage.following)
    assert first.reschedules == 1 and first.new_appointment_id
    await reply(stack, case_id, "something came up, can we do another day?")
    await reach(stack, case_id, Stage.offering)
    await reply(stack, case_id, "2")
    second = await eventually(lambda: state_of(stack, case_id),
                              lambda s: s.stage == Stage.following and s.reschedules == 2)
    assert second.new_appointment_id != first.new_appointment_id
    old = stack.deps.calendar.appointment(first.new_appointment_id or "")
    assert old is not None and old["status"] == "cancelled"  # the slot is free again, not double-held
    await reply(stack, case_id, "sorry, can we move it once more?")
    await eventually(lambda: state_of(stack, case_id),
                     lambda s: any("not moved again" in t.what for t in s.timeline) or s.stage != Stage.following,
                     timeout=10)
    final = await state_of(stack, case_id)
    assert final.stage == Stage.following and final.reschedules == 2  # over the cap: staff task, no new offer
    def tasks() -> list[str]:
        with stack.deps.db.connect() as conn:
            return [r[0] for r in conn.execute("SELECT title FROM crm_tasks").fetchall()]

    await eventually(lambda: asyncio.sleep(0, tasks()), lambda t: any("move again" in x for x in t))
