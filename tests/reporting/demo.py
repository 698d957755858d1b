"""A small ledger whose every number is counted by hand in test_metrics.py (see the table there)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.models import LedgerEvent

WEEK1 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)  # Tuesday of the week starting Monday 2025-03-03
WEEK2 = datetime(2025, 3, 11, 10, 0, tzinfo=UTC)  # Tuesday of the week starting Monday 2025-03-10


def _case(case_id: str, start: datetime, dims: dict[str, Any], steps: list[tuple[str, dict[str, Any]]]) -> list[
        LedgerEvent]:
    events = []
    for n, (type_, extra) in enumerate(steps, start=1):
        fields = {**dims, **extra}
        events.append(LedgerEvent(event_id=f"{case_id}:{n}:{type_}", case_id=case_id, type=type_,
                                  at=start + timedelta(hours=n * 13), **fields))
    return events


def demo_events() -> list[LedgerEvent]:
    cal = {"source": "calcom", "appointment_type": "consult"}
    ev: list[LedgerEvent] = []
    # a: confirmation and reminder sent, unanswered; sms no-show, replies, rebooked in 120 min, kept
    ev += _case("case-a", WEEK1, {**cal, "kind": "no_show", "owner_id": "o1", "location_id": "l1",
                                  "segment": "first_time", "arm": "exp/friendly"}, [
        ("case_opened", {"value": 100}), ("watch_sent", {"reason": "confirmation"}),
        ("watch_sent", {"reason": "reminder"}), ("verdict", {"outcome": "no_show"}),
        ("message_sent", {"channel": "sms", "template_id": "t1"}),
        ("message_delivered", {"channel": "sms", "template_id": "t1"}),
        ("reply_received", {"reason": "pick_slot"}), ("slot_offered", {"data": {"count": 3}}),
        ("rebooked", {"data": {"minutes_to_rebook": 120}}), ("crm_updated", {}), ("kept", {"outcome": "attended"}),
        ("case_closed", {"outcome": "confirmed", "value": 100}),
    ])
    # b: first message by email (failed), then sms; unrecovered; closes in the following week
    ev += _case("case-b", WEEK1, {**cal, "kind": "no_show", "owner_id": "o2", "location_id": "l1",
                                  "segment": "repeat", "arm": "exp/friendly"}, [
        ("case_opened", {"value": 200}), ("verdict", {"outcome": "no_show"}),
        ("message_sent", {"channel": "email", "template_id": "t2"}),
        ("message_failed", {"channel": "email", "template_id": "t2"}),
        ("message_sent", {"channel": "sms", "template_id": "t1"}),
        ("message_delivered", {"channel": "sms", "template_id": "t1"}),
        ("case_closed", {"outcome": "unrecovered", "value": 200}),
    ])
    # c: late cancel (kind refined after the verdict), holdout, unrecovered
    ev += _case("case-c", WEEK1, {"source": "calendly", "appointment_type": "cleaning", "owner_id": "o1",
                                  "location_id": "l2", "arm": "exp/holdout"}, [
        ("case_opened", {"value": 50, "kind": "no_show"}),
        ("verdict", {"outcome": "late_cancel", "kind": "late_cancel"}),
        ("case_closed", {"outcome": "unrecovered", "value": 50, "kind": "late_cancel"}),
    ])
    # i: customer cancel, still open
    ev += _case("case-i", WEEK1, {"source": "calendly", "appointment_type": "consult", "owner_id": "o3",
                                  "location_id": "l1", "kind": "customer_cancel"}, [
        ("case_opened", {"value": 70}), ("verdict", {"outcome": "cancelled"}),
    ])
    # j: moved by the customer
    ev += _case("case-j", WEEK1, {**cal, "owner_id": "o2", "location_id": "l1", "kind": "no_show"}, [
        ("case_opened", {"value": 90}), ("verdict", {"outcome": "rescheduled"}),
        ("case_closed", {"outcome": "cancelled", "value": 90}),
    ])
    # d: unclear, reviewed within SLA, holdout, rebooked on its own in 60 min, new appointment not kept
    ev += _case("case-d", WEEK2, {"source": "calendly", "appointment_type": "consult", "owner_id": "o1",
                                  "location_id": "l1", "kind": "no_show", "arm": "exp/holdout"}, [
        ("case_opened", {"value": 80}), ("verdict", {"outcome": "review"}), ("review_requested", {}),
        ("review_decided", {"data": {"decision": "approve", "within_sla": True}}),
        ("rebooked", {"data": {"minutes_to_rebook": 60}}), ("not_kept", {"outcome": "no_show"}),
        ("case_closed", {"outcome": "rebooked_missed", "value": 80}),  # a rebooking, not a kept one
    ])
    # e: confirmed, reminded, attended
    ev += _case("case-e", WEEK2, {**cal, "owner_id": "o2", "kind": "no_show"}, [
        ("case_opened", {"value": 120}), ("watch_sent", {"reason": "confirmation"}), ("watch_confirmed", {}),
        ("watch_sent", {"reason": "reminder"}), ("verdict", {"outcome": "attended"}),
        ("case_closed", {"outcome": "attended", "value": 120}),
    ])
    # f: ignored (no case_opened: its time is its first event)
    ev += _case("case-f", WEEK2, {"source": "calcom", "appointment_type": "cleaning", "owner_id": "o2",
                                  "location_id": "l2"}, [
        ("ignored", {"reason": "unmanaged_calendar"}), ("case_closed", {"outcome": "ignored"}),
    ])
    # g: opts out after one sms; an exception on the way
    ev += _case("case-g", WEEK2, {**cal, "kind": "no_show", "owner_id": "o1", "location_id": "l1",
                                  "segment": "first_time", "arm": "exp/direct"}, [
        ("case_opened", {"value": 60}), ("verdict", {"outcome": "no_show"}),
        ("message_sent", {"channel": "sms", "template_id": "t3"}),
        ("message_delivered", {"channel": "sms", "template_id": "t3"}),
        ("exception", {"reason": "provider_timeout"}),
        ("reply_received", {"reason": "opt_out"}), ("opt_out", {"channel": "sms"}),
        ("case_closed", {"outcome": "opted_out", "value": 60}),
    ])
    # h: a confirmation sent (no reminder), a question goes to review, decided late, closed by the reviewer
    ev += _case("case-h", WEEK2, {**cal, "kind": "no_show", "owner_id": "o1", "location_id": "l1"}, [
        ("case_opened", {"value": 40}), ("watch_sent", {"reason": "confirmation"}), ("verdict", {"outcome": "no_show"}),
        ("message_sent", {"channel": "sms", "template_id": "t1"}),
        ("reply_received", {"reason": "question"}), ("review_requested", {}),
        ("review_decided", {"data": {"decision": "reject", "within_sla": False}}),
        ("case_closed", {"outcome": "closed_by_reviewer", "value": 40}),
    ])
    return ev


# Hand count of demo_events(), no filters. Cases: a b c d e f g h i j (10).
EXPECTED_TOTAL: dict[str, float | int | None] = {
    "cases": 10, "watched": 9, "ignored": 1, "coverage": 0.9,           # f is ignored
    "detected": 9,                                                       # all but f
    "verdict_attended": 1, "verdict_no_show": 4, "verdict_cancelled": 1,  # e | a b g h | i
    "verdict_late_cancel": 1, "verdict_rescheduled": 1, "verdict_review": 1,  # c | j | d
    "no_show_rate": 0.4444, "reschedule_rate": 0.1111,                   # 4/9, 1/9
    "contacted": 4, "messages_sent": 5, "messages_delivered": 3,         # a b g h; a1 b2 g1 h1; a b g
    "messages_failed": 1, "delivery_rate": 0.6,                          # b; 3/5
    "replies": 3, "replied": 3, "reply_rate": 0.75, "opt_outs": 1,       # a g h; 3/4; g
    "confirmations_sent": 3, "confirmed": 1, "confirmation_rate": 0.3333,  # a e h; e; 1/3
    "reminded": 2, "reminded_attended": 1, "reminded_attendance_rate": 0.5,  # a e; e; 1/2
    "not_reminded": 7, "not_reminded_attended": 0,                       # b c d g h i j (f is ignored); none
    "not_reminded_attendance_rate": 0.0,
    "recoverable": 7, "recovered": 2, "recovery_rate": 0.2857,           # a b c d g h i; a d; 2/7
    "minutes_to_rebook": 90.0,                                           # (120 + 60) / 2
    "followed": 2, "kept": 1, "kept_rate": 0.5,                          # a kept, d not kept
    "unrecovered": 2, "open_cases": 1,                                   # b c; i
    "reviews": 2, "reviews_decided": 2, "reviews_within_sla": 1, "sla_met_rate": 0.5,  # d h; d
    "exceptions": 3,                                                     # g, and the reviews of d h
    "lost_revenue_risk": 350.0,                                          # b 200 + c 50 + g 60 + h 40
    "recovered_revenue": 180.0,                                          # a 100 + d 80
    "backfills_opened": 0, "waitlist_offers": 0, "slots_backfilled": 0,  # no backfills among the cases
    "backfill_rate": None, "backfilled_revenue": 0.0,
}

WEEK3 = datetime(2025, 3, 18, 10, 0, tzinfo=UTC)  # Tuesday of the week starting Monday 2025-03-17
BF_FILLED = "backfill-0000000000000000000000a1"
BF_UNFILLED = "backfill-0000000000000000000000b2"
BF_REOFFERED = "backfill-0000000000000000000000c3"
BF_UNOPENED = "backfill-0000000000000000000000d4"


def _slot(dims: dict[str, Any], value: float, reason: str) -> tuple[str, dict[str, Any]]:
    return "backfill_opened", {**dims, "value": value, "reason": reason}


def _msg(type_: str, dims: dict[str, Any], template: str, source: str | None = None) -> tuple[str, dict[str, Any]]:
    # the send activity writes the freed slot's dimensions; a provider's delivery news writes source "provider"
    fields = {**dims, "channel": "sms", "template_id": template}
    if source is not None:
        fields = {"source": source, "appointment_type": "-", "channel": "sms", "template_id": template}
    return type_, fields


def backfill_events() -> list[LedgerEvent]:
    """Waitlist backfills written the way the engine writes them (workers/intake/backfill.py, activities/backfill.py and
    the shared send activity); they sit beside demo_events() and must not change any case number."""
    lee = {"source": "calcom", "appointment_type": "consult", "owner_id": "o1", "location_id": "l1"}
    kim = {"source": "calendly", "appointment_type": "cleaning", "owner_id": "o2", "location_id": "l2"}
    taken = ("backfilled", {"source": "backfill", "appointment_type": "consult"})
    ev: list[LedgerEvent] = []
    # filled: two offers, a yes (its reply lands under the backfill id), a confirmation and a slot-gone note
    ev += _case(BF_FILLED, WEEK1, {}, [
        _slot(lee, 100, "cancellation"),
        _msg("message_sent", lee, "waitlist_offer"), _msg("message_sent", lee, "waitlist_offer"),
        _msg("message_delivered", lee, "waitlist_offer", source="provider"),
        ("reply_received", {"source": "reply", "appointment_type": "-", "channel": "sms", "reason": "pick_slot"}),
        taken,
        _msg("message_sent", lee, "confirm_booking"), _msg("message_sent", lee, "slot_gone"),
    ])
    # nobody takes it: three offers over two batches, one fails at the provider; still running
    ev += _case(BF_UNFILLED, WEEK2, {}, [
        _slot(kim, 50, "no_show"),
        _msg("message_sent", kim, "waitlist_offer"), _msg("message_sent", kim, "waitlist_offer"),
        _msg("message_failed", kim, "waitlist_offer", source="provider"),
        _msg("message_sent", kim, "waitlist_offer"),
    ])
    # taken, the taker cancels too, offered again under the same id and taken again: one slot, counted once
    ev += _case(BF_REOFFERED, WEEK2, {}, [
        _slot(lee, 80, "cancellation"), _msg("message_sent", lee, "waitlist_offer"), taken,
        _slot(lee, 80, "cancellation"), _msg("message_sent", lee, "waitlist_offer"), taken,
        _msg("message_sent", lee, "confirm_booking"),
    ])
    # its backfill_opened never reached the ledger: still a freed slot offered, opened at its first event
    ev += _case(BF_UNOPENED, WEEK3, {}, [
        _msg("message_sent", kim, "waitlist_offer"),
        _msg("message_delivered", kim, "waitlist_offer", source="provider"),
    ])
    return ev


# Hand count of demo_events() + backfill_events(): the case numbers are EXPECTED_TOTAL's, except the message
# totals, which count every customer message (backfills': 4 + 3 + 3 + 1 sent, 1 + 0 + 0 + 1 delivered, 1 failed).
EXPECTED_WITH_BACKFILLS: dict[str, float | int | None] = {
    **EXPECTED_TOTAL,
    "messages_sent": 16, "messages_delivered": 5, "messages_failed": 2,  # cases 5 + 11, 3 + 2, 1 + 1
    "delivery_rate": 0.3125,                                             # 5/16
    "backfills_opened": 4,                                               # a1 b2 c3 d4 (d4 without its event)
    "waitlist_offers": 8,                                                # a1 2, b2 3, c3 2, d4 1
    "slots_backfilled": 2, "backfill_rate": 0.5,                         # a1 c3; 2/4
    "backfilled_revenue": 180.0,                                         # a1 100 + c3 80 (once)
}
MESSAGE_METRICS = frozenset({"messages_sent", "messages_delivered", "messages_failed", "delivery_rate"})
