"""The deterministic core: typical replies, time zones, thresholds, and the property that an opt-out word always
opts out."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.models import ReplyIntent
from policies.replies import ReplyInput, is_opt_out, understand

NOW = datetime.fromisoformat("2025-03-03T09:00:00-05:00")  # Monday
NY = "America/New_York"
THREE = [datetime.fromisoformat(s) for s in
         ("2025-03-04T15:00:00-05:00", "2025-03-06T10:00:00-05:00", "2025-03-07T16:30:00-05:00")]
TWO_TUESDAYS = [datetime.fromisoformat(s) for s in
                ("2025-03-04T09:00:00-05:00", "2025-03-04T15:00:00-05:00", "2025-03-06T11:00:00-05:00")]


def read(text: str, offered: list[datetime] | None = None, **kw: object):
    return understand(ReplyInput(text=text, offered=THREE if offered is None else offered, now=NOW,
                                 timezone=kw.pop("timezone", NY), **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "slot"), [
    ("2", 1), ("#2", 1), ("option 2", 1), ("the second one", 1), ("first", 0), ("2nd", 1), ("la segunda", 1),
    ("tues 3pm works", 0), ("thursday morning", 1), ("3:00 pm", 0), ("fri 4:30", 2), ("the last one", 2),
])
def test_picks_the_named_slot(text: str, slot: int) -> None:
    r = read(text)
    assert (r.intent, r.slot_index, r.needs_review) == (ReplyIntent.pick_slot, slot, False)
    assert r.confidence >= 0.75


def test_relative_days_use_the_recipient_zone() -> None:
    offered = [datetime.fromisoformat(s) for s in
               ("2025-03-04T10:00:00-05:00", "2025-03-04T14:00:00-05:00", "2025-03-05T10:00:00-05:00")]
    assert read("tomorrow at 10", offered).slot_index == 0
    # 03:00 UTC on Tuesday is still Monday evening in New York: "tomorrow" is Tuesday there.
    late_monday = datetime.fromisoformat("2025-03-04T03:00:00+00:00")
    r = understand(ReplyInput(text="tomorrow at 2pm", offered=offered, now=late_monday, timezone=NY))
    assert r.slot_index == 1
    # The same instant read in Tokyo is already Tuesday afternoon: "tomorrow" is Wednesday, nothing at 2pm.
    r = understand(ReplyInput(text="tomorrow at 2pm", offered=offered, now=late_monday, timezone="Asia/Tokyo"))
    assert r.slot_index is None


def test_slots_given_in_utc_are_matched_in_local_time() -> None:
    offered = [datetime.fromisoformat("2025-03-04T20:00:00+00:00")]  # Tuesday 12:00 in Los Angeles
    la = "America/Los_Angeles"
    assert read("tuesday at noon", offered, timezone=la).slot_index == 0
    assert read("tuesday 8pm", offered, timezone=la).intent == ReplyIntent.reschedule


def test_day_of_month_and_dates() -> None:
    offered = [datetime.fromisoformat(s) for s in
               ("2025-03-13T09:00:00-04:00", "2025-03-14T13:00:00-04:00", "2025-03-17T15:30:00-04:00")]
    assert read("the 14th", offered).slot_index == 1
    assert read("3/17 works", offered).slot_index == 2
    assert read("3:30", offered).slot_index == 2


@pytest.mark.parametrize(("text", "offered"), [
    ("tuesday", TWO_TUESDAYS), ("yes", THREE), ("👍", THREE), ("2", THREE[:1]), ("1 or 2", THREE),
    ("tuesday or thursday", THREE), ("either one", THREE), ("option 7", THREE),
])
def test_ambiguity_never_yields_a_slot(text: str, offered: list[datetime]) -> None:
    r = read(text, offered)
    assert r.slot_index is None
    assert r.needs_review
    assert r.intent in (ReplyIntent.pick_slot, ReplyIntent.reschedule)


def test_yes_books_only_a_single_offer() -> None:
    assert read("yes", THREE[:1]).slot_index == 0
    assert read("yes", []).intent == ReplyIntent.reschedule


def test_proposed_time_outside_the_offer_is_a_reschedule() -> None:
    assert read("saturday at 9").intent == ReplyIntent.reschedule
    assert read("can we do next week?").intent == ReplyIntent.reschedule
    r = read("not tuesday")
    assert r.intent == ReplyIntent.reschedule and r.slot_index is None


def test_negated_day_is_excluded() -> None:
    assert read("I can't do Tuesday but Thursday works").slot_index == 1
    assert read("tuesday doesn't work, friday?").slot_index == 2


def test_cancel_my_appointment_cancels_the_appointment_not_consent() -> None:
    for text in ("cancel my appointment", "Please cancel my appointment", "cancela mi cita por favor"):
        r = read(text)
        assert r.intent == ReplyIntent.cancel and not r.clarify_opt_out, text
    bare = read("Cancel")
    assert bare.intent == ReplyIntent.opt_out and not bare.needs_review and bare.confidence == 1.0


def test_not_interested_closes_the_recovery_without_revoking() -> None:
    assert read("not interested").intent == ReplyIntent.cancel
    assert read("No gracias, no me interesa").intent == ReplyIntent.cancel
    assert read("not interested in your texts").intent == ReplyIntent.opt_out


@pytest.mark.parametrize("text", [
    "STOP", "stop.", "Stop please", "QUIT", "end", "REVOKE", "opt out", "OPT-OUT", "optout", "CANCEL",
    "UNSUBSCRIBE", "Unsubscribe me", "stop all", "S T O P", "stopp", "sotp", "unsubscibe", "I said stop",
    "Stop. Who is this?", "baja", "ALTO", "cancelar", "no me manden mas mensajes", "stop texting me",
])
def test_exact_and_near_exact_opt_out_words_revoke_at_once(text: str) -> None:
    assert read(text).intent == ReplyIntent.opt_out
    assert is_opt_out(text)


@pytest.mark.parametrize(("text", "intent"), [
    ("Is the bus stop near your office?", ReplyIntent.question),
    ("Does the session end before 5?", ReplyIntent.question),
    ("I couldn't stop coughing that day... yes to friday", ReplyIntent.pick_slot),
])
def test_an_opt_out_word_inside_other_words_is_clarified_and_the_rest_understood(text: str,
                                                                                 intent: ReplyIntent) -> None:
    r = read(text)
    assert r.intent == intent and r.clarify_opt_out
    assert not is_opt_out(text)
    if intent == ReplyIntent.pick_slot:
        assert r.slot_index == 2  # the Friday slot of the default offer


@pytest.mark.parametrize(("text", "intent"), [
    ("START", ReplyIntent.opt_in), ("unstop", ReplyIntent.opt_in), ("HELP", ReplyIntent.help),
    ("info", ReplyIntent.help), ("AYUDA", ReplyIntent.help), ("I was there!", ReplyIntent.dispute),
    ("I showed up", ReplyIntent.dispute), ("estuve ahí", ReplyIntent.dispute),
    ("wrong number", ReplyIntent.wrong_person),
    ("who is this? I don't have an appointment", ReplyIntent.wrong_person),
    ("running 10 min late", ReplyIntent.running_late), ("stuck in traffic", ReplyIntent.running_late),
    ("what's the address?", ReplyIntent.question), ("no thanks", ReplyIntent.cancel),
    ("can I stop by at noon instead?", ReplyIntent.reschedule), ("asdfgh", ReplyIntent.other),
])
def test_other_intents(text: str, intent: ReplyIntent) -> None:
    assert read(text).intent == intent


def test_yes_resubscribes_an_opted_out_contact() -> None:
    assert read("YES", opted_out=True).intent == ReplyIntent.opt_in
    assert read("YES", THREE[:1]).intent == ReplyIntent.pick_slot


def test_review_threshold_comes_from_the_input() -> None:
    strict = read("thursday morning", review_below=0.95)
    assert strict.slot_index == 1 and strict.needs_review
    assert read("asdf", review_below=0.0).needs_review is False
    assert read("asdf").needs_review is True


def test_unknown_zone_never_books_silently() -> None:
    r = read("thursday morning", timezone="Mars/Olympus")
    assert r.needs_review and "unknown time zone" in r.reason


def test_naive_times_are_local_wall_time() -> None:
    offered = [datetime(2025, 3, 4, 15, 0)]
    r = understand(ReplyInput(text="tomorrow at 3pm", offered=offered, now=datetime(2025, 3, 3, 9), timezone=NY))
    assert r.slot_index == 0


def test_long_input_is_cut_and_stays_fast() -> None:
    r = read("la " * 50_000 + "stop")
    assert r.intent in set(ReplyIntent)  # the cut text no longer holds the word; no crash, no hang
    assert read("stop " + "x" * 100_000).intent == ReplyIntent.opt_out


PER_SE = ["stop", "quit", "end", "revoke", "opt out", "opt-out", "optout", "cancel", "unsubscribe", "stopall"]
FILLER = st.sampled_from(["", "please", "pls", "now", "thanks", "ok", "!!!", ".", "🙏", "please!!", "thank you"])


@settings(max_examples=300, deadline=None)
@given(word=st.sampled_from(PER_SE), before=FILLER, after=FILLER,
       case=st.sampled_from(["lower", "upper", "title", "mixed"]), pad=st.sampled_from(["", " ", "\n", "  \t"]),
       punct=st.sampled_from(["", ".", "!", "!!", "?", ",", "..."]), offered=st.sampled_from([[], THREE]))
def test_per_se_opt_out_words_always_opt_out(word: str, before: str, after: str, case: str, pad: str, punct: str,
                                             offered: list[datetime]) -> None:
    cased = {"lower": word.lower(), "upper": word.upper(), "title": word.title(),
             "mixed": "".join(c.upper() if i % 2 else c for i, c in enumerate(word))}[case]
    text = f"{pad}{before} {cased}{punct} {after}{pad}"
    assert read(text, offered).intent == ReplyIntent.opt_out, text


def test_pure_and_deterministic() -> None:
    inp = ReplyInput(text="thursday morning", offered=THREE, now=NOW, timezone=NY)
    assert understand(inp) == understand(inp)
    assert inp.offered == THREE  # the input is not mutated


def test_a_number_the_reading_did_not_use_sends_the_pick_to_review() -> None:
    r = read("2 kids coming too, thursday ok?")
    assert r.slot_index == 1 and r.needs_review
    assert read("thursday 10").slot_index == 1  # a number right after a day is the hour
    assert read("tuesday 5").intent == ReplyIntent.reschedule  # 5 am/pm on Tuesday was not offered


def test_per_se_word_in_another_sense_is_not_an_opt_out() -> None:
    assert read("Stop by friday?").slot_index == 2
    assert read("end of the week works").intent != ReplyIntent.opt_out
