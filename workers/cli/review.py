"""`noshow review list|approve|reject|edit`: pending reviews and decisions, through the API."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from workers.cli.common import REFUSED, api_call, echo_json, fail, reviewer_token

review_app = typer.Typer(no_args_is_help=True, help="List and decide pending reviews.")

Token = Annotated[str | None, typer.Option(help="reviewer bearer token")]
Note = Annotated[str | None, typer.Option()]


@review_app.command("list")
def review_list(token: Token = None,
                as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Pending reviews you may decide, soonest due first: due time, appointment type, value, evidence, reasons."""
    rows = api_call("GET", "/reviews", token=token or reviewer_token())
    if as_json:
        echo_json(rows)
        return
    if not rows:
        typer.echo("no pending reviews")
    for r in rows:
        due = (r.get("due_at") or "-")[:16]
        value = f"{r['value']:.2f} {r.get('currency') or ''}".strip() if r.get("value") is not None else "-"
        evidence = "; ".join(r.get("evidence") or []) or "no attendance signals"
        typer.echo(f"{r['case_id']}  due {due}  {r.get('appointment_type') or '-'}  {value}  "
                   f"prior no-shows {r.get('prior_no_shows', '-')}")
        typer.echo(f"    why: {'; '.join(r['reasons'])}")
        typer.echo(f"    evidence: {evidence}")


def _decide(case_id: str, decision: str, token: str | None, note: str | None, **extra: Any) -> None:
    state = api_call("GET", f"/cases/{case_id}", token=token or reviewer_token())
    review = state.get("review")
    if not review:
        fail(f"case {case_id} is not awaiting review (stage {state.get('stage')})", REFUSED)
    out = api_call("POST", f"/reviews/{case_id}/decision", token=token or reviewer_token(),
                   json={"review_id": review["review_id"], "decision": decision, "note": note, **extra})
    typer.echo(json.dumps(out))


@review_app.command("approve")
def review_approve(case_id: str, token: Token = None, note: Note = None) -> None:
    """Approve automated recovery for a case."""
    _decide(case_id, "approve", token, note)


@review_app.command("reject")
def review_reject(case_id: str, token: Token = None, note: Note = None) -> None:
    """Close a case without any outreach."""
    _decide(case_id, "reject", token, note)


@review_app.command("edit")
def review_edit(case_id: str, token: Token = None, mark_attended: Annotated[bool, typer.Option()] = False,
                segment: Annotated[str | None, typer.Option()] = None, note: Note = None) -> None:
    """Correct a case: mark it attended, or choose the sequence segment."""
    _decide(case_id, "edit", token, note, mark_attended=mark_attended, segment=segment)
