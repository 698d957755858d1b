"""`noshow users add|list|disable|enable|token`: local accounts for the embedded stack's browser pages, and scoped
bearer tokens for the CLI and API. Passwords are read from a hidden prompt or stdin, never from an argument."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from workers.cli.common import fail, settings

if TYPE_CHECKING:
    from workers.api.auth.store import AuthStore

users_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Local accounts and API tokens.")


def _store() -> AuthStore:
    from connectors.local.db import LocalDb
    from workers.api.auth.store import AuthStore

    return AuthStore(LocalDb(settings().storage.local_db_path))


Role = Annotated[str, typer.Option(help="reviewer | owner | admin")]
Programs = Annotated[str, typer.Option(help="program names separated by |, or * for every program")]


@users_app.command("add")
def add(username: str, role: Role = "reviewer", programs: Programs = "*",
        password_stdin: Annotated[bool, typer.Option(help="read the password from stdin")] = False) -> None:
    """Add a local account (the password is hashed with argon2id)."""
    from workers.api.auth.store import UserError

    password = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True)
    try:
        user = _store().add_user(username, password, role, programs)
    except UserError as exc:
        fail(str(exc))
    typer.echo(f"added {user.user_id} ({user.role}, programs {'|'.join(sorted(user.programs))})")


@users_app.command("list")
def list_users() -> None:
    """Every local account with its role, programs and whether it is disabled."""
    for user in _store().users():
        state = "disabled" if user.disabled else "active"
        typer.echo(f"{user.user_id}\t{user.username}\t{user.role}\t{'|'.join(sorted(user.programs))}\t{state}")


@users_app.command("disable")
def disable(username: str) -> None:
    """Disable an account: its sessions end and its tokens stop working at once."""
    _set_disabled(username, True)


@users_app.command("enable")
def enable(username: str) -> None:
    """Enable a disabled account again (its old sessions and tokens stay revoked)."""
    _set_disabled(username, False)


def _set_disabled(username: str, disabled: bool) -> None:
    from workers.api.auth.store import UserError

    try:
        user = _store().set_disabled(username, disabled)
    except UserError as exc:
        fail(str(exc))
    typer.echo(f"{'disabled' if disabled else 'enabled'} {user.user_id}")


@users_app.command("token")
def token(username: str, role: Annotated[str | None, typer.Option(help="at most the user's role")] = None,
          programs: Annotated[str | None, typer.Option(help="a subset of the user's programs")] = None,
          days: Annotated[int | None, typer.Option(min=1, help="expires after this many days")] = None) -> None:
    """Issue a bearer token for a user, scoped to at most its role and programs; printed once."""
    from workers.api.auth.store import UserError

    try:
        typer.echo(_store().issue_token(username, role, programs, days))
    except UserError as exc:
        fail(str(exc))
