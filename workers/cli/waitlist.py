"""`noshow waitlist ...`: who waits for an opening, and what became of a freed slot (through the API)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from workers.cli.common import admin_token, api_call, fail

waitlist_app = typer.Typer(no_args_is_help=True, help="The waitlist that freed slots are offered to.")

TypeOpt = Annotated[str, typer.Option("--type", help="appointment type, as the source names it")]
CalendarOpt = Annotated[str, typer.Option("--calendar", help="calendar id")]


@waitlist_app.command("add")
def waitlist_add(
    contact_id: str,
    appointment_type: TypeOpt,
    calendar_id: CalendarOpt,
    name: Annotated[str | None, typer.Option()] = None,
    phone: Annotated[str | None, typer.Option(help="E.164, e.g. +15555550123")] = None,
    email: Annotated[str | None, typer.Option()] = None,
    timezone: Annotated[str | None, typer.Option("--tz", help="IANA zone, e.g. America/Chicago")] = None,
    locale: Annotated[str, typer.Option()] = "en",
) -> None:
    """Put a contact on the waitlist (their details go to the CRM; joining again keeps their place)."""
    if not (phone or email):
        fail("a waitlisted contact needs --phone or --email, or no offer can reach them")
    contact = {"contact_id": contact_id, "name": name, "phone": phone, "email": email, "timezone": timezone,
               "locale": locale}
    typer.echo(json.dumps(api_call("POST", "/waitlist", token=admin_token(), json={
        "contact": contact, "appointment_type": appointment_type, "calendar_id": calendar_id})))


@waitlist_app.command("list")
def waitlist_list(appointment_type: TypeOpt, calendar_id: CalendarOpt,
                  as_json: Annotated[bool, typer.Option("--json", help="print JSON (the default output)")] = True,
                  ) -> None:
    """Who waits for this type on this calendar, oldest first (JSON)."""
    entries = api_call("GET", "/waitlist", token=admin_token(),
                       params={"appointment_type": appointment_type, "calendar_id": calendar_id})
    typer.echo(json.dumps(entries, indent=2))


@waitlist_app.command("remove")
def waitlist_remove(contact_id: str, appointment_type: TypeOpt, calendar_id: CalendarOpt) -> None:
    """Take a contact off the waitlist."""
    typer.echo(json.dumps(api_call("DELETE", f"/waitlist/{contact_id}", token=admin_token(),
                                   params={"appointment_type": appointment_type, "calendar_id": calendar_id})))


@waitlist_app.command("backfill")
def waitlist_backfill(backfill_id: str) -> None:
    """What became of a freed slot: who was offered it (opaque keys), who took it, the outcome."""
    typer.echo(json.dumps(api_call("GET", f"/backfills/{backfill_id}", token=admin_token()), indent=2))
