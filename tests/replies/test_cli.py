"""`noshow explain reply` through a tiny Typer app, registered the way the `noshow` CLI registers it."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from workers.cli.replies import explain_reply

app = typer.Typer()
explain_app = typer.Typer()
explain_app.command("reply")(explain_reply)
app.add_typer(explain_app, name="explain")
runner = CliRunner()

OFFERED = ["--offered", "2025-03-04T15:00:00-05:00", "--offered", "2025-03-06T10:00:00-05:00"]


def run(*args: str):
    return runner.invoke(app, ["explain", "reply", *args])


def test_prints_exactly_the_five_fields() -> None:
    result = run("--text", "thursday morning", *OFFERED, "--now", "2025-03-03T09:00:00-05:00",
                 "--tz", "America/New_York")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data) == ["intent", "slot_index", "confidence", "needs_review", "reason"]
    assert data["intent"] == "pick_slot" and data["slot_index"] == 1 and data["needs_review"] is False


def test_ambiguous_yes_prints_null_slot() -> None:
    result = run("--text", "yes", *OFFERED, "--now", "2025-03-03T09:00:00Z")
    data = json.loads(result.stdout)
    assert data["slot_index"] is None and data["needs_review"] is True


def test_opt_out_without_offers_and_default_zone() -> None:
    result = run("--text", "STOP!!", "--now", "2025-03-03T09:00:00")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["intent"] == "opt_out"


@pytest.mark.parametrize(("args", "needle"), [
    (["--text", "2", "--offered", "next tuesday", "--now", "2025-03-03T09:00:00Z"], "--offered"),
    (["--text", "2", "--now", "yesterday"], "--now"),
    (["--text", "2", "--now", "2025-03-03T09:00:00Z", "--tz", "Mars/Olympus"], "unknown time zone"),
    (["--text", "2", "--now", "2025-03-03T09:00:00Z", "--tz", "../../etc/passwd"], "unknown time zone"),
    (["--text", "2", "--now", "2025-13-45T99:00"], "--now"),
])
def test_bad_input_is_a_clear_message_and_exit_2(args: list[str], needle: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert needle in result.stderr and "error:" in result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_missing_required_option_is_a_usage_error() -> None:
    result = run("--text", "2")
    assert result.exit_code == 2
