"""One summary row per case, derived from its ledger events: the precise definitions behind every metric.

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
FLAG_COLUMNS = (
    "watched", "detected", *(f"verdict_{v}" for v in DETECTION_OUTCOMES), "contacted", "replied", "unrecovered",
    "open_case", "followed", "recovered_recoverable",
)


def week_of(at: datetime) -> str:
    """ISO date of the Monday that starts `at`'s week (UTC)."""
    day: date = at.date()
    return (day - timedelta(days=day.weekday())).isoformat()


def _data(row: Mapping[str, Any]) -> dict[str, Any]:
    data = row.get("data")
    return data if isinstance(data, dict) else {}


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def case_facts(case_id: str, events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Summarise one case. `events` are ledger rows ordered by (at, seq): oldest first.

    Definitions (each is a column of `case_facts`):
    - opened_at: `at` of the first case_opened event, else of the case's first event; week: its Monday.
    - source, appointment_type, owner_id, location_id: first non-empty value, case_opened first.
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
    """
    if not events:
        raise ValueError("a case needs at least one event")
    opened = next((e for e in events if e["type"] == "case_opened"), None)
    ordered = [opened, *events] if opened is not None else list(events)

    def first(field: str) -> Any:
        return next((e[field] for e in ordered if e.get(field)), None)

    def last(field: str) -> Any:
        return next((e[field] for e in reversed(events) if e.get(field)), None)

    def of_type(*types: str) -> list[Mapping[str, Any]]:
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
    return {
        "case_id": case_id,
        "opened_at": opened_at,
        "week": week_of(opened_at),
        "source": first("source"),
        "appointment_type": first("appointment_type"),
        "owner_id": first("owner_id"),
        "location_id": first("location_id"),
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
        "exceptions": len(of_type("exception")),
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
    }
