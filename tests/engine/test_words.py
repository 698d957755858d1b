"""How a case talks and listens, against a real Temporal dev server: opt-out words inside other words, closing a
recovery without revoking consent, times as the customer reads them, offers that follow the day asked for."""

from __future__ import annotations

import asyncio
import re

from domain.models import EventType, Stage
from tests.engine.conftest import Stack
from tests.engine.test_case_workflow import no_follow, reach, reply, result, state_of
from tests.helpers import appointment, default_program, event, eventually, fast_policy


def messages(stack: Stack, case_id: str) -> list[dict[str, object]]:
    return stack.deps.outbox.messages(case_id)


async def test_an_opt_out_word_inside_a_sentence_is_clarified_once_and_the_rest_is_understood(stack: Stack) -> None:
    no_follow(stack)
    appt = appointment()
    case_id = (await stack.cases.submit_event(event(appt, EventType.no_show))).case_id
    assert case_id
    await reach(stack, case_id, Stage.recovering)
    await eventually(lambda: asyncio.sleep(0, messages(stack, case_id)), lambda m: len(m) >= 1)
    await reply(stack, case_id, "I couldn't stop coughing that day... can we find another time?")
    offered = await reach(stack, case_id, Stage.offering)
    assert offered.offered  # the rest of the reply was understood: new times were offered
    clarifications = [m for m in messages(stack, case_id) if m["template_id"] == "__opt_out_clarify__"]
    assert len(clarifications) == 1 and "Reply STOP to stop all texts from us" in str(clarifications[0]["body"])
    contact_key = str(messages(stack, case_id)[0]["contact_key"])
    assert not stack.deps.consent.opted_out_channels(contact_key)
    await reply(stack, case_id, "is the bus stop near your office?")  # a second one is not clarified again
    await eventually(lambda: state_of(stack, case_id), lambda s: s.stage == Stage.awaiting_review)
    clarifications = [m for m in messages(stack, case_id) if m["template_id"] == "__opt_out_clarify__"]
    assert len(clarifications) == 1


async def test_not_interested_closes_the_recovery_and_keeps_consent(stack: Stack) -> None:
    no_follow(stack)
    appt = appointment()
    case_id = (await stack.cases.submit_event(event(appt, EventType.no_show))).case_id
    assert case_id
    await reach(stack, case_id, Stage.recovering)
    await eventually(lambda: asyncio.sleep(0, messages(stack, case_id)), lambda m: len(m) >= 1)
    await reply(stack, case_id, "not interested")
    final = await result(stack, case_id)
    assert final.stage == Stage.unrecovered
    contact_key = str(messages(stack, case_id)[0]["contact_key"])
    assert not stack.deps.consent.opted_out_channels(contact_key)


async def test_offer_and_confirmation_show_times_as_the_customer_reads_them(stack: Stack) -> None:
    no_follow(stack)
    appt = appointment()
    case_id = (await stack.cases.submit_event(event(appt, EventType.reschedule_requested))).case_id
    assert case_id
    await reach(stack, case_id, Stage.offering)
    await eventually(lambda: asyncio.sleep(0, messages(stack, case_id)),
                     lambda m: any(str(x["template_id"]).startswith("offer_slots") for x in m))
    offer = next(m for m in messages(stack, case_id) if str(m["template_id"]).startswith("offer_slots"))
    body = str(offer["body"])
    assert not re.search(r"\d{4}-\d{2}-\d{2}T", body), body  # no raw timestamps
    assert re.search(r"1\) .*\d{1,2}:\d{2} (AM|PM)", body), body
    await reply(stack, case_id, "1")
    final = await result(stack, case_id)
    assert final.stage == Stage.confirmed
    confirm = [m for m in messages(stack, case_id) if str(m["template_id"]).startswith("confirm_booking")][-1]
    assert re.search(r"\d{1,2}:\d{2} (AM|PM)", str(confirm["body"])) and "T" not in str(confirm["body"]).split()[-1]


async def test_the_next_offer_follows_the_day_and_part_of_day_asked_for(stack: Stack) -> None:
    from zoneinfo import ZoneInfo

    no_follow(stack)
    appt = appointment()
    zone = ZoneInfo(appt.contact.timezone or "UTC")
    case_id = (await stack.cases.submit_event(event(appt, EventType.reschedule_requested))).case_id
    assert case_id
    first = await reach(stack, case_id, Stage.offering)
    await reply(stack, case_id, "Can I come friday morning instead?")
    second = await eventually(lambda: state_of(stack, case_id),
                              lambda s: s.stage == Stage.offering and bool(s.offered)
                              and s.offered[0].start != first.offered[0].start)
    local = [s.start.astimezone(zone) for s in second.offered]
    assert local and all(d.weekday() == 4 and d.hour < 12 for d in local), local


async def test_nothing_fits_says_so_plainly_and_offers_the_closest(stack: Stack) -> None:
    policy = fast_policy()
    program = default_program(policy)
    program.rebooking.follow_new_appointment = False
    program.rebooking.business_hours.days = [0, 1, 2, 3, 4]
    program.rebooking.business_hours.open, program.rebooking.business_hours.close = "09:00", "17:00"
    program.rebooking.horizon_days = 14
    stack.write_policy(policy)
    appt = appointment()
    case_id = (await stack.cases.submit_event(event(appt, EventType.reschedule_requested))).case_id
    assert case_id
    first = await reach(stack, case_id, Stage.offering)
    await reply(stack, case_id, "sunday at 6am?")  # the business is closed on Sundays
    await eventually(lambda: state_of(stack, case_id),
                     lambda s: s.stage == Stage.offering and bool(s.offered)
                     and s.offered[0].start != first.offered[0].start)
    sent = [str(m["template_id"]) for m in messages(stack, case_id)]
    assert any(t.startswith("offer_closest") for t in sent), sent


async def test_a_reply_after_the_offer_expired_gets_fresh_times_like_an_expired_link(stack: Stack) -> None:
    import uuid
    from datetime import timedelta

    from domain.models import Channel, Reply

    no_follow(stack)
    appt = appointment()
    case_id = (await stack.cases.submit_event(event(appt, EventType.reschedule_requested))).case_id
    assert case_id
    first = await reach(stack, case_id, Stage.offering)
    assert first.offer_expires_at is not None
    offer = next(m for m in messages(stack, case_id) if str(m["template_id"]).startswith("offer_slots"))
    assert "Held for you until" in str(offer["body"])  # the expiry is stated in the message
    late = Reply(reply_id=f"r-{uuid.uuid4().hex[:10]}", channel=Channel.sms, text="2",
                 received_at=first.offer_expires_at + timedelta(minutes=23))
    await stack.cases.submit_reply(late, sender=None, case_id=case_id)
    second = await eventually(lambda: state_of(stack, case_id),
                              lambda s: s.stage == Stage.offering and s.offer_expires_at != first.offer_expires_at)
    assert second.new_appointment_id is None  # nothing was booked on the expired offer
    assert len([m for m in messages(stack, case_id) if str(m["template_id"]).startswith("offer_slots")]) == 2


async def test_a_customer_who_cancels_a_week_ahead_is_not_told_we_missed_them(stack: Stack) -> None:
    from datetime import UTC, datetime, timedelta

    no_follow(stack)
    ahead = appointment(start=datetime.now(UTC).replace(microsecond=0) + timedelta(days=7))
    case_id = (await stack.cases.submit_event(event(ahead, EventType.booked))).case_id
    assert case_id
    await reach(stack, case_id, Stage.watching)
    await stack.cases.submit_event(event(ahead, EventType.cancelled))
    state = await reach(stack, case_id, Stage.recovering, Stage.offering, Stage.unrecovered, Stage.suppressed)
    assert state.kind.value == "customer_cancel"
    sent = await eventually(lambda: asyncio.sleep(0, messages(stack, case_id)), lambda m: len(m) >= 1)
    first = sent[0]
    assert str(first["template_id"]).startswith("missed_first.customer_cancel"), first["template_id"]
    assert "miss" not in str(first["body"]).lower() and "cancellation" in str(first["body"])


async def test_a_booking_link_in_the_first_message_is_there_and_books(stack: Stack) -> None:
    from domain.case import SlotChoice
    from workflows.case import RecoveryCaseWorkflow

    policy = fast_policy()
    default_program(policy).rebooking.follow_new_appointment = False
    for t in policy.templates:
        if t.id == "missed_first" and t.channel.value == "sms" and t.locale == "en":
            t.body = "Hi {first_name}, sorry we missed you. Pick a new time here: {booking_link} Reply STOP to opt out."
    stack.write_policy(policy)
    appt = appointment()
    case_id = (await stack.cases.submit_event(event(appt, EventType.no_show))).case_id
    assert case_id
    sent = await eventually(lambda: asyncio.sleep(0, messages(stack, case_id)), lambda m: len(m) >= 1)
    assert str(sent[0]["template_id"]).startswith("missed_first") and "/book/" in str(sent[0]["body"])
    state = await state_of(stack, case_id)
    assert state.stage == Stage.recovering and state.offered and state.booking_link in str(sent[0]["body"])
    await stack.cases.handle(case_id).signal(RecoveryCaseWorkflow.choose_slot,
                                             SlotChoice(choice_id="link-test-0", slot_index=0, via="link"))
    final = await result(stack, case_id)
    assert final.stage == Stage.confirmed and final.new_appointment_start == state.offered[0].start
