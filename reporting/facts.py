"""One summary row per case, derived from its ledger events: the precise definitions behind every metric.

A waitlist backfill (`SlotBackfill`, id `backfill-...`) writes under its own id too; its row is a backfill row
(`backfill` = 1): every case column is zero there, only the message counts and the backfill columns are set, so
case metrics never see a backfill and backfill metrics never see a case.

The ledger stays append-only and is the only source of truth; `case_facts` is a cache of this function's
output, refreshed for the touched cases inside every append and rebuildable from scratch
(`Ledger.rebuild_facts`). Reports aggregate these rows with SQL, which is what keeps 1,000,000 events fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

NO_SHOW_LIKE_KINDS = frozenset({"no_show", "late_cancel"})
NO_SHOW_LIKE_VERDICTS = frozenset({"no_show", "late_cancel"})
NOT_RECOVERABLE_VERDICTS = frozenset({"attended", "rescheduled"})
DETECTION_OUTCOMES = ("attended", "no_show", "cancelled", "late_cancel", "rescheduled", "review")
BACKFILL_PREFIX = "backfill-"  # workers.backfill names every backfill so (reporting must not import the engine)
BACKFILL_OFFER_TEMPLATE = "waitlist_offer"  # workflows.backfill.OFFER_TEMPLATE
# a ledger row: a dict, or SQLAlchemy's RowMapping (whose keys may also be columns, hence not Mapping[str, ...])
Event = Mapping[Any, Any]
FLAG_COLUMNS = (
    "watched", "detected", *(f"verdict_{v}" for v in DETECTION_OUTCOMES), "contacted", "replied", "unrecovered",
    "open_case", "followed", "recovered_recoverable",
)
# before the appointment (migration 0004, hence a server default: rows summarised before it read 0)
WATCH_FLAG_COLUMNS = (
    "confirmation_sent", "confirmed", "reminded", "reminded_attended", "not_reminded", "not_reminded_attended",
)


def week_of(at: datetime) -> str:
    """ISO date of the Monday that starts `at`'s week (UTC)."""
    day: date = at.date()
    return (day - timedelta(days=day.weekday())).isoformat()


def _data(row: Event) -> dict[str, Any]:
    data = row.get("data")
    return data if isinstance(data, dict) else {}


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def is_backfill_id(case_id: str) -> bool:
    return case_id.startswith(BACKFILL_PREFIX)


def case_facts(case_id: str, events: Sequence[Event]) -> dict[str, Any]:
    """Summarise one case, or one waitlist backfill when `case_id` starts with "backfill-" (`backfill_facts`).

    `events` are ledger rows ordered by (at, seq): oldest first.

    Definitions (each is a column of `case_facts`):
    - opened_at: `at` of the first case_opened event, else of the case's first event; week: its Monday.
    - source, appointment_type, owner_id, location_id, program: first non-empty value, case_opened first.
    - kind, segment, arm: last non-empty value (the workflow refines kind after the verdict and sets the
      segment and arm after opening).
    - channel, template_id: those of the first message_sent (first-touch attribution); NULL if none.
    - verdict: outcome of the last verdict event. outcome: outcome of the last case_closed event.
    - value: value of the last case_closed event, else of the first case_opened event.
    - ignored: has an ignored event. opted_out: has an opt_out event or closed as opted_out.
    - rebooked: has a rebooked event; minutes_to_rebook: data.minutes_to_rebook of the first one.
    - kept / not_kept: which of the two the last kept-or-not_kept event says (at most one is 1).
    - recoverable: not ignored, has a verdict, verdict not attended/rescheduled, not closed as attended.
    - lost_value: value if kind and verdict are no_show/late_cancel, the case is closed and not rebooked.
    - recovered_value: value if rebooked.
    - backfill, backfill_offers, backfilled, backfilled_value: 0 (a case is not a backfill).
    - confirmation_sent: has a `watch_sent` event with reason `confirmation`; confirmed: that, and a
      `watch_confirmed` event (the customer confirmed: C, "confirm", "sí").
    - attended (not a column): the last verdict is `attended`, or the case closed as attended.
    - reminded: has a `watch_sent` event with reason `reminder` and a detection verdict (its attendance is known);
      reminded_attended: that, and attended. not_reminded / not_reminded_attended: the same for watched cases
      with a detection verdict and no reminder sent.
    """
    if not events:
        raise ValueError("a case needs at least one event")
    if is_backfill_id(case_id):
        return backfill_facts(case_id, events)
    opened = next((e for e in events if e["type"] == "case_opened"), None)
    ordered = [opened, *events] if opened is not None else list(events)

    def first(field: str) -> Any:
        return next((e[field] for e in ordered if e.get(field)), None)

    def last(field: str) -> Any:
        return next((e[field] for e in reversed(events) if e.get(field)), None)

    def of_type(*types: str) -> list[Event]:
        return [e for e in events if e["type"] in types]

    opened_at: datetime = (opened or events[0])["at"]
    sent = of_type("message_sent")
    verdicts = of_type("verdict")
    closes = of_type("case_closed")
    rebooks = of_type("rebooked")
    follow = of_type("kept", "not_kept")
    reviews_decided = of_type("review_decided")
    ignored = of_type("ignored")

    verdict = verdicts[-1]["outcome"] if verdicts else None
    outcome = closes[-1]["outcome"] if closes else None
    closed = bool(closes)
    value = float(closes[-1]["value"]) if closes else float(opened["value"]) if opened else 0.0
    kind = last("kind")
    is_rebooked = bool(rebooks)
    kept = bool(follow) and follow[-1]["type"] == "kept"
    not_kept = bool(follow) and follow[-1]["type"] == "not_kept"
    recoverable = (
        not ignored and verdict is not None and verdict not in NOT_RECOVERABLE_VERDICTS and outcome != "attended"
    )
    lost = kind in NO_SHOW_LIKE_KINDS and verdict in NO_SHOW_LIKE_VERDICTS and closed and not is_rebooked
    watch_sent = {e.get("reason") for e in of_type("watch_sent")}
    confirmation_sent = "confirmation" in watch_sent
    attended = verdict == "attended" or outcome == "attended"
    checked = verdict in DETECTION_OUTCOMES and not ignored
    reminded = checked and "reminder" in watch_sent
    not_reminded = checked and "reminder" not in watch_sent
    return {
        "case_id": case_id,
        "opened_at": opened_at,
        "week": week_of(opened_at),
        "source": first("source"),
        "appointment_type": first("appointment_type"),
        "owner_id": first("owner_id"),
        "location_id": first("location_id"),
        "program": first("program"),
        "kind": kind,
        "segment": last("segment"),
        "arm": last("arm"),
        "channel": sent[0]["channel"] if sent else None,
        "template_id": sent[0]["template_id"] if sent else None,
        "verdict": verdict,
        "outcome": outcome,
        "closed": int(closed),
        "value": value,
        "ignored": int(bool(ignored)),
        "ignore_reason": ignored[0]["reason"] if ignored else None,
        "messages_sent": len(sent),
        "messages_delivered": len(of_type("message_delivered")),
        "messages_failed": len(of_type("message_failed")),
        "replies": len(of_type("reply_received")),
        "opted_out": int(bool(of_type("opt_out")) or outcome == "opted_out"),
        "slots_offered": len(of_type("slot_offered")),
        "rebooked": int(is_rebooked),
        "minutes_to_rebook": _float(_data(rebooks[0]).get("minutes_to_rebook")) if rebooks else None,
        "kept": int(kept),
        "not_kept": int(not_kept),
        "reviews_requested": len(of_type("review_requested")),
        "reviews_decided": len(reviews_decided),
        "reviews_within_sla": sum(1 for e in reviews_decided if _data(e).get("within_sla") is True),
        "crm_updates": len(of_type("crm_updated")),
        # what reached a human: review requests (first asks, not their reminders) and owner alerts
        "exceptions": len(of_type("exception")) + len(of_type("review_requested")),
        "recoverable": int(recoverable),
        "lost_value": value if lost else 0.0,
        "recovered_value": value if is_rebooked else 0.0,
        "events": len(events),
        # 0/1 flags so that every report aggregate is a plain SUM over integers (the fast path in SQLite)
        "watched": int(not ignored),
        "detected": int(verdict in DETECTION_OUTCOMES),
        **{f"verdict_{v}": int(verdict == v) for v in DETECTION_OUTCOMES},
        "contacted": int(bool(sent)),
        "replied": int(bool(of_type("reply_received"))),
        "unrecovered": int(outcome == "unrecovered"),
        "open_case": int(not closed),
        "followed": int(kept or not_kept),
        "recovered_recoverable": int(is_rebooked and recoverable),
        "confirmation_sent": int(confirmation_sent),
        "confirmed": int(confirmation_sent and bool(of_type("watch_confirmed"))),
        "reminded": int(reminded),
        "reminded_attended": int(reminded and attended),
        "not_reminded": int(not_reminded),
        "not_reminded_attended": int(not_reminded and attended),
        **NOT_A_BACKFILL,
    }


NOT_A_BACKFILL: dict[str, Any] = {"backfill": 0, "backfill_offers": 0, "backfilled": 0, "backfilled_value": 0.0}
# a backfill row's case columns: nothing a case metric sums (the message counts are set apart, see below)
NOT_A_CASE: dict[str, Any] = {
    "kind": None, "segment": None, "arm": None, "verdict": None, "outcome": None, "closed": 0, "ignored": 0,
    "ignore_reason": None, "replies": 0, "opted_out": 0, "slots_offered": 0, "rebooked": 0,
    "minutes_to_rebook": None, "kept": 0, "not_kept": 0, "reviews_requested": 0, "reviews_decided": 0,
    "reviews_within_sla": 0, "crm_updates": 0, "exceptions": 0, "recoverable": 0, "lost_value": 0.0,
    "recovered_value": 0.0, **dict.fromkeys(FLAG_COLUMNS, 0), **dict.fromkeys(WATCH_FLAG_COLUMNS, 0),
}


def backfill_facts(backfill_id: str, events: Sequence[Event]) -> dict[str, Any]:
    """Summarise one waitlist backfill (one freed slot). `events` are ledger rows ordered by (at, seq).

    Definitions (the row's columns; every case column is zero or NULL, see NOT_A_CASE):
    - backfill: 1. opened_at: `at` of the first backfill_opened event, else of the first event; week: its Monday.
    - source, appointment_type, owner_id, location_id, program: first non-empty value, backfill_opened first (the
      `backfilled` event says source "backfill", replies "reply": the freed slot's own values win).
    - channel, template_id: those of the first message_sent (first touch), as for a case.
    - value: value of the first backfill_opened event (the freed slot's), else 0.
    - messages_sent / messages_delivered / messages_failed: counts of those events (offers, "slot gone" notes
      and booking confirmations alike: every customer message counts toward caps and costs).
    - backfill_offers: message_sent events with template_id `waitlist_offer`.
    - backfilled: has a `backfilled` event (a waitlisted contact took the slot).
    - backfilled_value: value if backfilled.
    A slot offered again under the same id (its taker cancelled too) stays one row: one freed slot.
    """
    if not events:
        raise ValueError("a backfill needs at least one event")
    opened = next((e for e in events if e["type"] == "backfill_opened"), None)
    ordered = [opened, *events] if opened is not None else list(events)

    def first(field: str) -> Any:
        return next((e[field] for e in ordered if e.get(field)), None)

    def count(type_: str) -> int:
        return sum(1 for e in events if e["type"] == type_)

    opened_at: datetime = (opened or events[0])["at"]
    sent = [e for e in events if e["type"] == "message_sent"]
    value = (_float(opened["value"]) or 0.0) if opened is not None else 0.0
    backfilled = any(e["type"] == "backfilled" for e in events)
    return {
        **NOT_A_CASE,
        "case_id": backfill_id,
        "opened_at": opened_at,
        "week": week_of(opened_at),
        "source": first("source"),
        "appointment_type": first("appointment_type"),
        "owner_id": first("owner_id"),
        "location_id": first("location_id"),
        "program": first("program"),
        "channel": sent[0]["channel"] if sent else None,
        "template_id": sent[0]["template_id"] if sent else None,
        "value": value,
        "messages_sent": len(sent),
        "messages_delivered": count("message_delivered"),
        "messages_failed": count("message_failed"),
        "events": len(events),
        "backfill": 1,
        "backfill_offers": sum(1 for e in sent if e.get("template_id") == BACKFILL_OFFER_TEMPLATE),
        "backfilled": int(backfilled),
        "backfilled_value": value if backfilled else 0.0,
    }
