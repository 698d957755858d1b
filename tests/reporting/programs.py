"""Cases of two programs and one of no known program (written before the ledger had one), each with figures
and filter values of its own, so that any of them showing up in another program's view is visible."""

from __future__ import annotations

from typing import Any

from domain.models import LedgerEvent
from tests.reporting.demo import WEEK1, _case

# program -> (case id, owner, location, appointment type, value); None: no known program
CASES: dict[str | None, tuple[str, str, str, str, float]] = {
    "default": ("case-p-default", "o-default", "l-default", "consultation", 100.0),
    "dental": ("case-p-dental", "o-dental", "l-dental", "cleaning", 250.0),
    None: ("case-p-legacy", "o-legacy", "l-legacy", "legacy_type", 40.0),
}


def program_events() -> list[LedgerEvent]:
    """default: a no-show closed unrecovered (lost revenue risk 100). dental: a no-show rebooked (recovered
    revenue 250), its delivery status written without a program as the provider callback writes it. legacy: an
    unrecovered no-show without a program (lost revenue risk 40)."""
    events: list[LedgerEvent] = []
    for program, (case_id, owner, location, type_, value) in CASES.items():
        dims: dict[str, Any] = {"source": "calcom", "appointment_type": type_, "owner_id": owner,
                                "location_id": location, "kind": "no_show", "program": program}
        rebooked = program == "dental"
        events += _case(case_id, WEEK1, dims, [
            ("case_opened", {"value": value}), ("verdict", {"outcome": "no_show"}),
            ("message_sent", {"channel": "sms", "template_id": f"t-{owner}"}),
            *([("rebooked", {"data": {"minutes_to_rebook": 30}})] if rebooked else []),
            ("case_closed", {"outcome": "confirmed" if rebooked else "unrecovered", "value": value}),
        ])
    dental_case = CASES["dental"][0]
    events.append(LedgerEvent(event_id=f"{dental_case}:status:delivered", case_id=dental_case,
                              type="message_delivered", at=WEEK1, source="provider", appointment_type="-",
                              channel="sms"))
    return events
