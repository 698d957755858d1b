"""Which case a customer's unanswered call is about: the case whose appointment is closest to the call, within the
program's `missed_calls.within_hours` of its start."""

from __future__ import annotations

from datetime import datetime

from policies.schema import MissedCallRules


def case_for_call(call_at: datetime, candidates: list[tuple[str, datetime, MissedCallRules]]) -> str | None:
    """`candidates`: (case id, appointment start, the case's program rules). None when no appointment is near."""
    near = [(abs((start - call_at).total_seconds()), case_id) for case_id, start, rules in candidates
            if abs((start - call_at).total_seconds()) <= rules.within_hours * 3600]
    return min(near)[1] if near else None
