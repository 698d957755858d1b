"""`noshow inbox list|resolve`: what waits for a person (replies nobody could route, staff tasks), through the API."""

from __future__ import annotations

from typing import Annotated

import typer

from workers.cli.common import admin_token, api_call, echo_json

inbox_app = typer.Typer(no_args_is_help=True, help="Staff tasks: replies nobody could route, failed sends.")


@inbox_app.command("list")
def inbox_list(
    resolved: Annotated[bool, typer.Option("--resolved", help="include resolved items")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Open items, newest first: unknown-sender replies, replies to closed cases, staff tasks."""
    rows = api_call("GET", "/inbox", token=admin_token(), params={"resolved": str(resolved).lower()})
    if as_json:
        echo_json(rows)
        return
    if not rows:
        typer.echo("nothing waiting")
    for r in rows:
        state = f"resolved by {r['resolved_by']}" if r.get("resolved_by") else "open"
        text = " ".join(str(r["text"]).split())[:60]
        typer.echo(f"{r['at'][:16]}  {r['kind']:14} {state:10} {r['item_id']}  {text}")


@inbox_app.command("resolve")
def inbox_resolve(item_id: str, note: Annotated[str | None, typer.Option(help="what was done")] = None) -> None:
    """Mark one item resolved (exit 1 when there is no such open item)."""
    echo_json(api_call("POST", f"/inbox/{item_id}/resolve", token=admin_token(), json={"note": note}))
