"""`noshow explain attendance|send|reply`: how the policy decides, as JSON, to test a change before it ships."""

from __future__ import annotations

import typer

from workers.cli.policy import explain_attendance, explain_send
from workers.cli.replies import explain_reply

explain_app = typer.Typer(no_args_is_help=True, help="Explain a policy decision as JSON, to test a change.")
explain_app.command("attendance")(explain_attendance)
explain_app.command("send")(explain_send)
explain_app.command("reply")(explain_reply)
