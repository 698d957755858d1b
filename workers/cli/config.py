"""`noshow settings`: the effective configuration, every section, secrets masked."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from workers.cli.common import settings


def show_settings(
    section: Annotated[str | None, typer.Argument(help="one section, e.g. temporal, api, twilio")] = None,
) -> None:
    """Print the effective settings as JSON (environment and .env), with every secret shown only as set or not."""
    masked = settings().masked()
    if section is not None:
        if section not in masked:
            typer.echo(f"error: no settings section {section!r} (one of: {', '.join(masked)})", err=True)
            raise typer.Exit(2)
        masked = {section: masked[section]}
    typer.echo(json.dumps(masked, indent=2, default=str))
