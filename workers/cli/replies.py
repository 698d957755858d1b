"""`noshow explain reply`: show how the deterministic rules read one reply.

Prints {"intent", "slot_index", "confidence", "needs_review", "reason"} as JSON (slot_index 0-based or null).
Exit codes: 0 ok, 2 bad input (unparsable ISO time, unknown time zone). Bad input never prints a traceback.
Rules only, so the answer is reproducible; the optional model is not consulted here.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import NoReturn

import typer

from policies.replies import ReplyInput, understand
from policies.zones import zone_of


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _iso(value: str, option: str) -> datetime:
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        _fail(f"{option} must be an ISO 8601 time such as 2025-03-04T15:00:00-05:00 (got {value[:40]!r})")


def explain_reply(
    text: str = typer.Option(..., "--text", help="The customer's reply."),
    offered: list[str] = typer.Option([], "--offered", help="An offered slot start (ISO 8601); repeat in order."),
    now: str = typer.Option(..., "--now", help="When the reply arrived (ISO 8601)."),
    tz: str = typer.Option("UTC", "--tz", help="The recipient's IANA time zone, e.g. America/New_York."),
) -> None:
    """Explain how a reply is understood: intent, chosen slot, confidence, review flag and reason."""
    if zone_of(tz) is None:
        _fail(f"--tz: unknown time zone {tz[:64]!r} (use an IANA name such as America/New_York)")
    slots = [_iso(value, "--offered") for value in offered]
    when = _iso(now, "--now")
    result = understand(ReplyInput(text=text, offered=slots, now=when, timezone=tz))
    typer.echo(json.dumps({
        "intent": result.intent.value,
        "slot_index": result.slot_index,
        "confidence": result.confidence,
        "needs_review": result.needs_review,
        "reason": result.reason,
    }))
