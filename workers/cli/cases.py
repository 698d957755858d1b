"""`noshow cases`, `case`, `reply` and `inbox`: what the cases are doing, answering one as the customer, and
the customer messages waiting for a human."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from domain.models import Stage
from workers.cli.common import REFUSED, admin_token, api_call, echo_json, fail


def cases(
    stage: Annotated[Stage | None, typer.Option(help="only cases in this stage", case_sensitive=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List cases with their stage and outcome."""
    params = {"stage": stage.value} if stage else {}
    rows = api_call("GET", "/cases", token=admin_token(), params=params)
    if as_json:
        echo_json(rows)
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
    """Reply to a case as the simulated customer (goes through the same path as a provider's webhook).
    Exit 1 when there is no such case (nothing is sent) or the case is closed (the reply goes to the staff inbox)."""
    if channel not in ("sms", "whatsapp", "email"):
        fail("channel must be sms, whatsapp or email")
    backfill = case_id.startswith("backfill-")
    if backfill and not sender:
        fail("a waitlist offer went to many people: say who answers with --from ADDRESS")
    if not backfill:
        api_call("GET", f"/cases/{case_id}", token=admin_token())  # 404: "no such case", exit 1, nothing recorded
    out = api_call("POST", "/inbound/local", token=admin_token(),
                   json={"case_id": case_id, "text": text, "channel": channel, "sender": sender})
    typer.echo(json.dumps(out))
    if out.get("routed") in ("unknown_sender", "closed_case"):
        fail(f"the reply did not reach an open case ({out.get('routed')}); it is in the staff inbox "
             "(`noshow inbox list`)", REFUSED)
