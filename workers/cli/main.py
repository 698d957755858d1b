"""The `noshow` command. Each command group lives in its own module and is imported only when it runs, so
`noshow --help` answers without importing Temporal, SQLAlchemy, FastAPI or the policy engine."""

from __future__ import annotations

import sys
from typing import Any

import typer

from workers.cli.lazy import Lazy, lazy_group

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
    "setup-temporal": Lazy("workers.cli.temporal_setup", "setup_temporal",
                           "Create the namespace and register the search attributes (a deploy's one-shot job)."),
    "codec-server": Lazy("workers.cli.codec", "codec_server", "Serve the codec protocol for the Temporal UI."),
    "inbox": Lazy("workers.cli.inbox", "inbox_app", "Staff tasks: replies nobody could route, failed sends."),
}


app = lazy_group(COMMANDS, no_args_is_help=True,
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
