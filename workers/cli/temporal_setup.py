"""`noshow setup-temporal`: the one-shot job a deploy runs before its workers (compose, the Kubernetes Job)."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated

import typer

from workers.cli.common import DONE, REFUSED, settings


def setup_temporal(
    create_namespace: Annotated[bool, typer.Option(help="register the namespace when it is missing (self-hosted; "
                                                        "Temporal Cloud namespaces are created in Cloud)")] = True,
    retention_days: Annotated[int, typer.Option(min=1, help="history retention of a namespace created now")] = 30,
    wait: Annotated[float, typer.Option(help="seconds to keep trying while Temporal comes up")] = 120,
) -> None:
    """Create the namespace (self-hosted) and register the engine's search attributes. Exit 1 on any failure."""
    from datetime import timedelta

    from temporalio.service import RPCError

    from workers.temporal.client import connect
    from workers.temporal.setup import SetupError, ensure_namespace, ensure_search_attributes

    s = settings()
    namespace = s.temporal.namespace

    async def run() -> None:
        client = await connect(s, wait_seconds=wait)
        if create_namespace and not s.temporal.cloud and await ensure_namespace(
                client, namespace, timedelta(days=retention_days)):
            typer.echo(f"namespace {namespace} created ({retention_days} days retention)")
        added = await ensure_search_attributes(client, namespace, wait=wait, echo=typer.echo)
        typer.echo(f"search attributes added: {', '.join(added)}" if added else "search attributes: all present")

    code = DONE
    try:
        asyncio.run(run())
        typer.echo(f"namespace {namespace} is ready for the engine")
    except SetupError as exc:
        code = _error(str(exc))
    except RPCError as exc:
        code = _error(f"Temporal refused: {exc.message}")
    except RuntimeError as exc:  # the client could not connect within the wait
        code = _error(f"cannot reach Temporal at {s.temporal.target}: {exc}")
    # the SDK's Rust threads can abort the interpreter's finalization in a short-lived client process (a known SDK
    # bug), which would turn this job's success into a crash: leave without finalizing, output flushed
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _error(message: str) -> int:
    typer.echo(f"error: {message}", err=True)
    return REFUSED
