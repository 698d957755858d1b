"""The `noshow` command. Each command group lives in its own module and is imported only when it runs, so
`noshow --help` answers without importing Temporal, SQLAlchemy, FastAPI or the policy engine."""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperGroup


@dataclass(frozen=True)
class Lazy:
    module: str
    attr: str  # a command function, or a Typer app for a group
    help: str  # shown by `noshow --help` without importing the module


COMMANDS: dict[str, Lazy] = {
    "up": Lazy("workers.cli.stack", "up", "Start the Temporal dev server and UI, the worker and the API."),
    "worker": Lazy("workers.cli.stack", "worker", "Run only the Temporal worker."),
    "api": Lazy("workers.cli.stack", "api", "Run only the HTTP API."),
    "demo": Lazy("workers.cli.stack", "demo", "Seed the local calendar and CRM, send a realistic mix of events."),
    "cases": Lazy("workers.cli.case_commands", "cases_app", "List cases, or cancel/override/mark one by hand."),
    "case": Lazy("workers.cli.cases", "show_case", "Show one case's state."),
    "reply": Lazy("workers.cli.cases", "reply", "Reply to a case as the simulated customer."),
    "review": Lazy("workers.cli.review", "review_app", "List and decide pending reviews."),
    "report": Lazy("workers.cli.report", "report", "Recovery numbers from the ledger (same as the dashboard)."),
    "policy": Lazy("workers.cli.policy", "policy_app", "Check policy files."),
    "explain": Lazy("workers.cli.explain", "explain_app", "Explain a policy decision as JSON, to test a change."),
    "lint-message": Lazy("workers.cli.policy", "lint_message", "Lint a message against the messaging rules."),
    "waitlist": Lazy("workers.cli.waitlist", "waitlist_app", "The waitlist that freed slots are offered to."),
    "connectors": Lazy("workers.cli.connectors", "connectors_app", "Connected providers: check their settings."),
    "users": Lazy("workers.cli.users", "users_app", "Local accounts for the browser pages, and API tokens."),
    "settings": Lazy("workers.cli.config", "show_settings", "Print the effective settings, secrets masked."),
    "codec-server": Lazy("workers.cli.codec", "codec_server", "Serve the codec protocol for the Temporal UI."),
    "inbox": Lazy("workers.cli.inbox", "inbox_app", "Staff tasks: replies nobody could route, failed sends."),
}


class LazyCommands(TyperGroup):
    """A group whose commands are imported on first use; `--help` lists them from `COMMANDS` alone."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        lazy = COMMANDS.get(cmd_name)
        if lazy is None:
            return None
        target = getattr(importlib.import_module(lazy.module), lazy.attr)
        command: Any
        if isinstance(target, typer.Typer):
            command = typer.main.get_group(target)
        else:
            holder = typer.Typer(add_completion=False)
            holder.command(cmd_name)(target)
            command = typer.main.get_command(holder)
        command.name = cmd_name
        return command

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, lazy.help) for name, lazy in COMMANDS.items()])

    def format_help(self, ctx: Any, formatter: Any) -> None:
        # plain click formatting: the rich one asks every command for its help, importing them all
        super(TyperGroup, self).format_help(ctx, formatter)


app = typer.Typer(cls=LazyCommands, no_args_is_help=True, add_completion=False,
                  help="noshow-recovery: recover missed appointments.")


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("noshow-recovery")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"noshow-recovery {version()}")
        raise typer.Exit(0)


@app.callback()
def _root(
    show_version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                      help="Print the version and exit."),
) -> None:
    """noshow-recovery: recover missed appointments."""


def main(argv: list[str] | None = None) -> Any:
    try:
        return app(args=argv)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
