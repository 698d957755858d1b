"""`noshow cases`, `case`, `reply` and `inbox`: what the cases are doing, answering one as the customer, and
the customer messages waiting for a human."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from workers.cli.common import admin_token, api_call, fail


def cases(
    stage: Annotated[str | None, typer.Option(help="only cases in this stage")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List cases with their stage and outcome."""
    params = {"stage": stage} if stage else {}
    rows = api_call("GET", "/cases", token=admin_token(), params=params)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'case':32} {'status':10} {'kind':20} {'stage':18} review")
    for r in rows:
        typer.echo(f"{r['case_id']:32} {r['status']:10} {r['kind']!s:20} {r['stage']!s:18} "
                   f"{'yes' if r['needs_review'] else ''}")


def show_case(case_id: str) -> None:
    """Show one case's state (no customer details: the state holds none)."""
    typer.echo(json.dumps(api_call("GET", f"/cases/{case_id}", token=admin_token()), indent=2))


def reply(
    case_id: str,
    text: str,
    channel: Annotated[str, typer.Option(help="sms, whatsapp or email")] = "sms",
    sender: Annotated[str | None, typer.Option(
        "--from", help="the answering address; needed to answer a waitlist offer (a backfill-... id)")] = None,
) -> None:
    """Reply to a case as the simulated customer (goes through the same path as a provider's webhook)."""
    if channel not in ("sms", "whatsapp", "email"):
        fail("channel must be sms, whatsapp or email")
    if case_id.startswith("backfill-") and not sender:
        fail("a waitlist offer went to many people: say who answers with --from ADDRESS")
    out = api_call("POST", "/inbound/local", token=admin_token(),
                   json={"case_id": case_id, "text": text, "channel": channel, "sender": sender})
    typer.echo(json.dumps(out))


def inbox(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="at most this many, newest first")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Customer messages no case could act on (unknown sender, closed case), waiting for a human."""
    rows = api_call("GET", "/inbox/tasks", token=admin_token(), params={"limit": limit})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'received':26} {'routed':15} {'intent':12} {'case':32} message")
    for r in rows:
        text = " ".join(str(r.get("text") or "").split())
        typer.echo(f"{r['at']:26} {r['routed']:15} {r['intent']:12} {r['case_id'] or '-':32} {text[:60]}")
