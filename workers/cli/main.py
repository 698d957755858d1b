"""The `noshow` command."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from workers.settings import Settings, get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="noshow-recovery: recover missed appointments.")
review_app = typer.Typer(no_args_is_help=True, help="List and decide pending reviews.")
explain_app = typer.Typer(no_args_is_help=True, help="Explain a policy decision as JSON, to test a change.")
app.add_typer(review_app, name="review")
app.add_typer(explain_app, name="explain")


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings() -> Settings:
    try:
        return get_settings()
    except Exception as exc:  # pydantic's message names the bad setting
        fail(f"invalid settings: {exc}")
        raise


def api_call(method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
    s = settings()
    url = f"http://{s.api.host}:{s.api.port}{path}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        resp = httpx.request(method, url, headers=headers, timeout=30, **kwargs)
    except httpx.HTTPError:
        fail(f"cannot reach the API at {url}; is `noshow up` (make run) running?")
    if resp.status_code >= 400:
        try:
            detail = resp.json().get("detail")
        except ValueError:
            detail = resp.text
        fail(f"{resp.status_code}: {detail}", 1)
    return resp.json()


def reviewer_token() -> str:
    spec = settings().reviewer_tokens.get_secret_value()
    return spec.split(",")[0].split("=")[0]


@app.command()
def up() -> None:
    """Start the Temporal dev server and UI, the worker and the API; Ctrl-C stops them all."""
    from workers.cli.connectors import collect
    from workers.dev.stack import Stack

    s = settings()
    # a connector that cannot start would crash its child again and again: say what is wrong, start nothing
    problems = [f"  {section}/{c.name}: {c.detail}" for section, checks in collect().items() for c in checks
                if c.status == "error"]
    if problems:
        typer.echo("error: the connector settings have problems (see `noshow connectors check`):", err=True)
        typer.echo("\n".join(problems), err=True)
        raise typer.Exit(2)
    stack = Stack(s, echo=typer.echo)
    stack.build()

    def on_signal(signum: int, _: object) -> None:
        stack.stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    typer.echo("starting noshow-recovery ...")
    stack.start()
    temporal = s.temporal.address or f"127.0.0.1:{s.temporal.port}"
    ui = f"http://127.0.0.1:{s.temporal.ui_port}" if not s.temporal.address else "(your Temporal's UI)"
    typer.echo(
        "\n".join([
            "",
            f"  API        http://{s.api.host}:{s.api.port}   (OpenAPI docs at /docs)",
            f"  Dashboard  http://{s.api.host}:{s.api.port}/dashboard",
            f"  Temporal   {temporal}",
            f"  Temporal UI {ui}",
            f"  Data       {s.storage.data_dir.resolve()}   (logs in {s.storage.data_dir / 'logs'})",
            "",
            "  Next: in another terminal run `.venv/bin/noshow demo`, then `.venv/bin/noshow cases`.",
            "  Press Ctrl-C to stop.",
        ])
    )
    try:
        stack.supervise()
    finally:
        typer.echo("stopping ...")
        stack.stop()
        typer.echo("stopped.")


@app.command()
def worker() -> None:
    """Run only the Temporal worker (production: run as many as you need)."""
    from workers.worker import main

    main()


@app.command()
def api() -> None:
    """Run only the HTTP API."""
    from workers.api.app import main

    main()


@app.command()
def demo(
    timeout: Annotated[float, typer.Option(help="seconds to wait for the cases to reach their states")] = 90,
) -> None:
    """Seed the local calendar and CRM, send a realistic mix of signed events and replies, show the result."""
    from workers.dev.demo import run_demo

    s = settings()
    try:
        ok = asyncio.run(run_demo(s, typer.echo, timeout=timeout))
    except ConnectionError as exc:
        fail(str(exc))
    if not ok:
        raise typer.Exit(1)


@app.command()
def cases(
    stage: Annotated[str | None, typer.Option(help="only cases in this stage")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List cases with their stage and outcome."""
    params = {"stage": stage} if stage else {}
    rows = api_call("GET", "/cases", token=settings().admin_token.get_secret_value(), params=params)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'case':32} {'status':10} {'kind':20} {'stage':18} review")
    for r in rows:
        typer.echo(f"{r['case_id']:32} {r['status']:10} {r['kind']!s:20} {r['stage']!s:18} "
                   f"{'yes' if r['needs_review'] else ''}")


@app.command("case")
def show_case(case_id: str) -> None:
    """Show one case's state (no customer details: the state holds none)."""
    typer.echo(json.dumps(api_call("GET", f"/cases/{case_id}", token=settings().admin_token.get_secret_value()),
                          indent=2))


@app.command()
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
    out = api_call("POST", "/inbound/local", token=settings().admin_token.get_secret_value(),
                   json={"case_id": case_id, "text": text, "channel": channel, "sender": sender})
    typer.echo(json.dumps(out))


@review_app.command("list")
def review_list(token: Annotated[str | None, typer.Option(help="reviewer bearer token")] = None) -> None:
    """Pending reviews you may decide."""
    rows = api_call("GET", "/reviews", token=token or reviewer_token())
    if not rows:
        typer.echo("no pending reviews")
    for r in rows:
        typer.echo(f"{r['case_id']}  {r['review_id']}  {'; '.join(r['reasons'])}")


def _decide(case_id: str, decision: str, token: str | None, note: str | None, **extra: Any) -> None:
    state = api_call("GET", f"/cases/{case_id}", token=token or reviewer_token())
    review = state.get("review")
    if not review:
        fail(f"case {case_id} is not awaiting review (stage {state.get('stage')})", 1)
    out = api_call("POST", f"/reviews/{case_id}/decision", token=token or reviewer_token(),
                   json={"review_id": review["review_id"], "decision": decision, "note": note, **extra})
    typer.echo(json.dumps(out))


@review_app.command("approve")
def review_approve(case_id: str, token: Annotated[str | None, typer.Option()] = None,
                   note: Annotated[str | None, typer.Option()] = None) -> None:
    """Approve automated recovery for a case."""
    _decide(case_id, "approve", token, note)


@review_app.command("reject")
def review_reject(case_id: str, token: Annotated[str | None, typer.Option()] = None,
                  note: Annotated[str | None, typer.Option()] = None) -> None:
    """Close a case without any outreach."""
    _decide(case_id, "reject", token, note)


@review_app.command("edit")
def review_edit(case_id: str, token: Annotated[str | None, typer.Option()] = None,
                mark_attended: Annotated[bool, typer.Option()] = False,
                segment: Annotated[str | None, typer.Option()] = None,
                note: Annotated[str | None, typer.Option()] = None) -> None:
    """Correct a case: mark it attended, or choose the sequence segment."""
    _decide(case_id, "edit", token, note, mark_attended=mark_attended, segment=segment)


def _ledger() -> Any:
    from reporting.ledger import Ledger

    ledger = Ledger(settings().ledger_db_url)
    ledger.migrate()
    return ledger


def _register_subject_commands() -> None:
    """Commands that live beside their subject: reporting, policies, replies, connectors."""
    from reporting.cli import make_report_command
    from workers.cli.policy import explain_attendance, explain_send, lint_message, policy_app
    from workers.cli.replies import explain_reply

    app.command("report", help="Recovery numbers from the ledger (same as the dashboard).")(
        make_report_command(_ledger)
    )
    app.add_typer(policy_app, name="policy")
    explain_app.command("attendance")(explain_attendance)
    explain_app.command("send")(explain_send)
    explain_app.command("reply")(explain_reply)
    app.command("lint-message")(lint_message)
    from workers.cli.connectors import connectors_check
    from workers.temporal.codec_server import codec_server

    app.command("codec-server", help="Serve the Temporal codec protocol so the UI can decrypt payloads.")(
        codec_server
    )

    connectors_app = typer.Typer(no_args_is_help=True, help="Connected providers: check their settings.")
    connectors_app.command("check")(connectors_check)
    app.add_typer(connectors_app, name="connectors")
    from workers.cli.waitlist import waitlist_app

    app.add_typer(waitlist_app, name="waitlist")


_register_subject_commands()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


__all__ = ["Path", "main"]
