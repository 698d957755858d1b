"""`noshow up`, `worker`, `api` and `demo`: the processes, and a realistic mix of cases to look at."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from workers.cli.common import REFUSED, fail, settings


def up() -> None:
    """Start the Temporal dev server and UI, the worker and the API; Ctrl-C stops them all."""
    from workers.cli.connectors import collect
    from workers.dev.stack import Stack

    s = settings()
    from workers.production import refuse_unsafe_start

    refuse_unsafe_start(s, "stack")
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
    from workers.dev.stack import codec_endpoint

    ui = f"http://127.0.0.1:{s.temporal.ui_port}" if s.temporal.embedded else "(your Temporal's UI)"
    codec = codec_endpoint(s) if s.temporal.embedded else None
    typer.echo("\n".join([
        "",
        f"  API        {s.api.local_url}   (OpenAPI docs at /docs)",
        f"  Dashboard  {s.api.local_url}/dashboard   (sign in at /login: `noshow users add NAME --role owner`)",
        f"  Temporal   {s.temporal.target}",
        f"  Temporal UI {ui}",
        *([f"  Codec      {codec}   (decrypts payloads for the UI; loopback and the UI's origin only)"]
          if codec else []),
        f"  Data       {s.storage.data_dir.resolve()}   (logs in {s.storage.data_dir / 'logs'})",
        "",
        "  Next: in another terminal run `.venv/bin/noshow demo`, then `.venv/bin/noshow cases`.",
        "  Press Ctrl-C to stop.",
    ]))
    try:
        stack.supervise()
    finally:
        typer.echo("stopping ...")
        stack.stop()
        typer.echo("stopped.")


def worker() -> None:
    """Run only the Temporal worker (production: run as many as you need)."""
    from workers.worker import main

    main()


def api() -> None:
    """Run only the HTTP API."""
    from workers.api.app import main

    main()


def demo(
    timeout: Annotated[float, typer.Option(help="seconds to wait for the cases to reach their states")] = 90,
    source: Annotated[str | None, typer.Option(help="send one missed appointment as this provider's own signed "
                                                    "webhook and recover it (calcom, activecampaign, pipedrive, "
                                                    "gohighlevel, hubspot, calendly, events, zoom, zendesk, "
                                                    "freshdesk, mindbody, acuity, square), or write it to a "
                                                    "polled provider (salesforce, zoho, fhir, quickbooks, "
                                                    "servicetitan, jobber, sheets, airtable) and run its reconcile "
                                                    "once; then recover it")] = None,
    yes_create: Annotated[bool, typer.Option("--yes-create", help="let the demo create its records in a "
                                                                  "provider account that is not a local fake")] = False,
) -> None:
    """Seed the local calendar and CRM, send a realistic mix of signed events and replies, show the result."""
    from workers.dev.demo import DemoRefused, run_demo
    from workers.dev.demo_polled import POLLED, run_polled_demo

    s = settings()
    try:
        if source is not None and source in POLLED:
            ok = asyncio.run(run_polled_demo(s, source, typer.echo, timeout=timeout, yes_create=yes_create))
        elif source is not None:
            from workers.dev.demo_sources import run_source_demo

            ok = asyncio.run(run_source_demo(s, source, typer.echo, timeout=timeout, yes_create=yes_create))
        else:
            ok = asyncio.run(run_demo(s, typer.echo, timeout=timeout))
    except (ConnectionError, DemoRefused) as exc:
        fail(str(exc), REFUSED)
    if not ok:
        raise typer.Exit(1)
