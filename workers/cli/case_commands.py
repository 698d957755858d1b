"""`noshow cases`: the list of cases, and changing one by hand (`cancel`, `override`, `mark-no-show`,
`mark-attended`), each through the admin API, which audits who did it."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from domain.models import Stage
from workers.cli.cases import cases as list_cases
from workers.cli.common import admin_token, api_call

cases_app = typer.Typer(add_completion=False, invoke_without_command=True,
                        help="List cases, or change one by hand (audited).")


@cases_app.callback()
def _list(
    ctx: typer.Context,
    stage: Annotated[Stage | None, typer.Option(help="only cases in this stage", case_sensitive=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List cases with their stage and outcome (without a subcommand)."""
    if ctx.invoked_subcommand is None:
        list_cases(stage=stage, as_json=as_json)


def _command(action: str, case_id: str, reason: str | None) -> None:
    out = api_call("POST", f"/cases/{case_id}/{action}", token=admin_token(), json={"reason": reason})
    typer.echo(json.dumps(out))


Reason = Annotated[str | None, typer.Option(help="why, for the audit trail")]


@cases_app.command("cancel")
def cancel(case_id: str, reason: Reason = None) -> None:
    """Close the case as cancelled (watching, review, recovering or offering)."""
    _command("cancel", case_id, reason)


@cases_app.command("override")
def override(case_id: str, reason: Reason = None) -> None:
    """Recover now, without the attendance check or the review gate (while watching)."""
    _command("override", case_id, reason)


@cases_app.command("mark-no-show")
def mark_no_show(case_id: str, reason: Reason = None) -> None:
    """Record that the customer did not come (owner confirmation, while watching)."""
    _command("mark-no-show", case_id, reason)


@cases_app.command("mark-attended")
def mark_attended(case_id: str, reason: Reason = None) -> None:
    """Record that the customer came: closes a case in review, recovery or offering as attended."""
    _command("mark-attended", case_id, reason)
