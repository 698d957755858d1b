"""Consent, caps and reply routing by normalised address, on a real Temporal server with the real worker.

Each test plays a customer the earlier engine failed: a number stored with spaces, an email stored with capitals,
one phone under two contact ids, a STOP before the first message (while watching, while deferred), a STOP after
the case closed, two STOPs at once, a reply before the engine wrote, concurrent cases against a cap."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import phonenumbers

from domain.addresses import address_key
from domain.case import CaseState
from domain.models import Channel, EventType, Reply, Stage
from policies.zones import zone_or
from tests.engine.conftest import Stack
from tests.helpers import appointment, event, eventually
from workers.dev.demo import _DAYTIME_CANDIDATES, daytime_contact
from workflows.case import RecoveryCaseWorkflow


def spaced(e164: str) -> str:
    """'+12125550100' -> '+1 212-555-0100': how a CRM often stores it."""
    return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def night_contact() -> tuple[str, str]:
    now = datetime.now(UTC)
    for phone, zone in _DAYTIME_CANDIDATES:
        if 1 <= now.astimezone(zone_or(zone, "UTC")).hour < 6:
            return phone, zone
    raise AssertionError("no candidate zone is at night now")


def stop(sender: str, text: str = "STOP", channel: Channel = Channel.sms) -> tuple[Reply, str]:
    return Reply(reply_id=f"SM{uuid.uuid4().hex}", channel=channel, text=text, received_at=datetime.now(UTC)), sender


async def state_of(stack: Stack, case_id: str) -> CaseState:
    return await stack.cases.handle(case_id).query(RecoveryCaseWorkflow.state_query)


async def result(stack: Stack, case_id: str) -> CaseState:
    return await asyncio.wait_for(stack.cases.handle(case_id).result(), timeout=60)  # type: ignore[return-value]


async def first_message(stack: Stack, case_id: str) -> None:
    await eventually(lambda: asyncio.sleep(0, stack.deps.outbox.messages(case_id)), lambda m: len(m) >= 1)


def confirmations(stack: Stack) -> list[dict[str, object]]:
    return [m for m in stack.deps.outbox.messages() if str(m["template_id"]).startswith("consent_opted_out")]


async def test_stop_from_the_compact_number_stops_both_contact_ids_stored_with_spaces(stack: Stack) -> None:
    phone, zone = daytime_contact()
    one = appointment(contact_id="c-one", phone=spaced(phone), timezone=zone)
    two = appointment(contact_id="c-two", phone=phone.replace("+", "+ "), timezone=zone)
    a = (await stack.cases.submit_event(event(one))).case_id
    b = (await stack.cases.submit_event(event(two))).case_id
    assert a and b
    await first_message(stack, a)
    await first_message(stack, b)
    assert stack.deps.outbox.messages(a)[0]["recipient"] == phone  # normalised once, at the edge

    reply, sender = stop(phone)  # Twilio's From: E.164, no spaces
    outcome = await stack.cases.submit_reply(reply, sender=sender)
    assert outcome.opted_out and outcome.case_id in (a, b)

    assert (await result(stack, a)).stage == Stage.opted_out
    assert (await result(stack, b)).stage == Stage.opted_out
    assert len(confirmations(stack)) == 1
    others = [m for m in stack.deps.outbox.messages() if not str(m["template_id"]).startswith("consent_")]
    assert len(others) == 2  # the two first messages only


async def test_sendgrid_lower_cased_sender_reaches_the_case_stored_with_capitals(stack: Stack) -> None:
    appt = appointment(email="Pat.Example@Example.COM")
    case_id = (await stack.cases.submit_event(event(appt))).case_id
    assert case_id
    await first_message(stack, case_id)
    reply, sender = stop("pat.example@example.com", text="unsubscribe", channel=Channel.email)
    outcome = await stack.cases.submit_reply(reply, sender=sender)
    assert outcome.case_id == case_id and outcome.routed == "case"
    assert (await result(stack, case_id)).stage == Stage.opted_out
    sent = confirmations(stack)
    assert len(sent) == 1 and sent[0]["recipient"] == "pat.example@example.com"


async def test_stop_while_watching_closes_the_case_before_any_message(stack: Stack) -> None:
    phone, zone = daytime_contact()
    appt = appointment(start=datetime.now(UTC) + timedelta(seconds=4), minutes=0, phone=phone, timezone=zone)
    case_id = (await stack.cases.submit_event(event(appt, EventType.booked))).case_id
    assert case_id
    await eventually(lambda: state_of(stack, case_id), lambda s: s.stage == Stage.watching)
    reply, sender = stop(spaced(phone), text="Stop texting me")
    outcome = await stack.cases.submit_reply(reply, sender=sender)
    assert outcome.routed == "case" and outcome.case_id == case_id
    # the no-show report comes later: the case must not write anyway
    await stack.cases.submit_event(event(appt, EventType.no_show))
    assert (await result(stack, case_id)).stage == Stage.opted_out
    assert [m["template_id"] for m in stack.deps.outbox.messages()] == ["consent_opted_out"]


async def test_stop_while_the_first_message_waits_for_the_send_window(stack: Stack) -> None:
    phone, zone = night_contact()
    appt = appointment(phone=phone, timezone=zone)
    case_id = (await stack.cases.submit_event(event(appt))).case_id
    assert case_id
    waiting = await eventually(lambda: state_of(stack, case_id),
                               lambda s: any("deferred" in t.what for t in s.timeline))
    assert waiting.messages_sent == 0
    reply, sender = stop(phone)
    await stack.cases.submit_reply(reply, sender=sender)
    final = await asyncio.wait_for(result(stack, case_id), timeout=15)  # woken, not after the night
    assert final.stage == Stage.opted_out and final.messages_sent == 0
    assert [m["template_id"] for m in stack.deps.outbox.messages()] == ["consent_opted_out"]


async def test_stop_after_the_case_closed_is_confirmed_once_and_holds_for_the_next_case(stack: Stack) -> None:
    phone, zone = daytime_contact()
    first = appointment(contact_id="c-late", phone=phone, timezone=zone)
    case_id = (await stack.cases.submit_event(event(first))).case_id
    assert case_id
    await first_message(stack, case_id)
    await stack.cases.handle(case_id).terminate("closed for the test")
    reply, sender = stop(phone)
    outcome = await stack.cases.submit_reply(reply, sender=sender)
    again = await stack.cases.submit_reply(reply, sender=sender)  # the provider re-delivers it
    assert outcome.routed == "closed_case" and again.opted_out
    assert len(confirmations(stack)) == 1
    # a new appointment of a new contact id with that number: nothing goes to it
    later = appointment(contact_id="c-late-2", phone=spaced(phone), timezone=zone, email=None)
    new_case = (await stack.cases.submit_event(event(later))).case_id
    assert new_case
    assert (await result(stack, new_case)).stage == Stage.opted_out
    assert stack.deps.outbox.messages(new_case) == []


async def test_unknown_senders_stop_is_honoured_for_that_address(stack: Stack) -> None:
    phone, zone = daytime_contact()
    reply, sender = stop(phone)
    outcome = await stack.cases.submit_reply(reply, sender=sender)
    assert outcome.routed == "unknown_sender" and outcome.opted_out
    assert len(confirmations(stack)) == 1
    appt = appointment(phone=phone, timezone=zone, email=None)
    case_id = (await stack.cases.submit_event(event(appt))).case_id
    assert case_id
    assert (await result(stack, case_id)).stage == Stage.opted_out
    assert stack.deps.outbox.messages(case_id) == []


async def test_two_simultaneous_stops_to_two_open_cases_get_exactly_one_confirmation(stack: Stack) -> None:
    phone, zone = daytime_contact()
    a = (await stack.cases.submit_event(event(appointment(contact_id="c-two-stops", phone=phone,
                                                          timezone=zone)))).case_id
    b = (await stack.cases.submit_event(event(appointment(contact_id="c-two-stops", phone=phone,
                                                          timezone=zone)))).case_id
    assert a and b
    await first_message(stack, a)
    await first_message(stack, b)
    stops = [stop(phone), stop(phone, text="stop")]
    outcomes = await asyncio.gather(*(stack.cases.submit_reply(r, sender=s) for r, s in stops))
    assert all(o.opted_out for o in outcomes)
    assert (await result(stack, a)).stage == Stage.opted_out
    assert (await result(stack, b)).stage == Stage.opted_out
    sent = confirmations(stack)  # one opt-out, one confirmation: the second STOP finds the number out already
    assert len(sent) == 1 and str(sent[0]["message_id"]) in {f"consent-{r.reply_id}" for r, _ in stops}
    assert sent[0]["recipient"] == phone


async def test_a_reply_before_the_engine_wrote_reaches_the_case(stack: Stack) -> None:
    phone, zone = daytime_contact()
    appt = appointment(start=datetime.now(UTC) + timedelta(hours=2), phone=spaced(phone), timezone=zone)
    case_id = (await stack.cases.submit_event(event(appt, EventType.booked))).case_id
    assert case_id
    assert stack.deps.outbox.messages() == []
    reply, sender = stop(phone, text="I won't make it, can we move it to Friday?")
    outcome = await stack.cases.submit_reply(reply, sender=sender)
    assert outcome.routed == "case" and outcome.case_id == case_id and not outcome.opted_out


async def test_three_per_day_holds_across_concurrent_cases_of_one_contact(stack: Stack) -> None:
    phone, zone = daytime_contact()
    appts = [appointment(contact_id="c-capped", phone=phone, timezone=zone, email=None) for _ in range(6)]
    outcomes = await asyncio.gather(*(stack.cases.submit_event(event(a)) for a in appts))
    case_ids = [o.case_id for o in outcomes if o.case_id]
    assert len(case_ids) == 6
    await eventually(lambda: asyncio.gather(*(state_of(stack, c) for c in case_ids)),
                     lambda states: all(s.messages_sent == 1 or any("deferred" in t.what for t in s.timeline)
                                        for s in states), timeout=40)
    sent = [m for m in stack.deps.outbox.messages() if m["case_id"] in case_ids]
    assert len(sent) == 3
    key = address_key(phone, stack.deps.settings.auth.id_salt)
    assert len([r for r in stack.deps.intents.rows() if r["address_key"] == key]) == 3


async def test_a_reply_while_the_first_message_waits_for_the_window_takes_over(stack: Stack) -> None:
    phone, zone = night_contact()
    appt = appointment(phone=phone, timezone=zone)
    case_id = (await stack.cases.submit_event(event(appt))).case_id
    assert case_id
    await eventually(lambda: state_of(stack, case_id), lambda s: any("deferred" in t.what for t in s.timeline))
    reply, sender = stop(phone, text="sorry I missed it, can we find another time?")
    outcome = await stack.cases.submit_reply(reply, sender=sender)
    assert outcome.routed == "case" and outcome.case_id == case_id
    woken = await eventually(lambda: state_of(stack, case_id),
                             lambda s: any("the customer replied while it waited" in t.what for t in s.timeline),
                             timeout=15)
    assert woken.messages_sent == 0 and any("reply understood" in t.what for t in woken.timeline)
    assert not any(str(m["template_id"]).startswith("missed_") for m in stack.deps.outbox.messages(case_id))
