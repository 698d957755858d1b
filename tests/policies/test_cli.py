"""The policy CLI commands, run through typer's CliRunner the way the `noshow` CLI registers them."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from policies.loader import default_policy_path
from workers.cli.policy import explain_attendance, explain_send, lint_message, policy_app

app = typer.Typer()
explain_app = typer.Typer()
app.add_typer(policy_app, name="policy")
app.add_typer(explain_app, name="explain")
explain_app.command("attendance")(explain_attendance)
explain_app.command("send")(explain_send)
app.command("lint-message")(lint_message)
runner = CliRunner()

APPOINTMENT = {
    "source": "local", "appointment_id": "a-1", "appointment_type": "consultation",
    "start": "2026-11-23T15:00:00Z", "end": "2026-11-23T15:30:00Z",
    "contact": {"contact_id": "c-1", "timezone": "America/New_York"},
}


def run(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), input=stdin)


def test_policy_check_default_ok() -> None:
    result = run("policy", "check")
    assert result.exit_code == 0, result.output
    assert "ok:" in result.output


def test_policy_check_errors_name_file_line_field(tmp_path: Path) -> None:
    text = default_policy_path().read_text().replace("grace_minutes: 15", "grace_minutes: soon", 1)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    result = run("policy", "check", str(bad))
    assert result.exit_code == 1
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "grace_minutes: soon" in ln)
    assert f"{bad}:{line}: programs." in result.output and ".attendance.grace_minutes:" in result.output


def test_policy_check_lint_error_exit_1(tmp_path: Path) -> None:
    text = default_policy_path().read_text().replace("Want to pick a new time?", "You failed us. Pick a new time?")
    bad = tmp_path / "lint.yaml"
    bad.write_text(text)
    result = run("policy", "check", str(bad))
    assert result.exit_code == 1
    assert "error: shaming" in result.output and f"{bad}:" in result.output


def test_policy_check_unreadable_file_exit_2(tmp_path: Path) -> None:
    result = run("policy", "check", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2 and "cannot read" in result.output
    assert "Traceback" not in result.output


def test_explain_attendance_from_stdin() -> None:
    payload = {"appointment": APPOINTMENT, "now": "2026-11-23T17:00:00Z",
               "signals": [{"kind": "scheduler_status", "value": "no_show", "at": "2026-11-23T16:00:00Z"}]}
    result = run("explain", "attendance", "--input", "-", stdin=json.dumps(payload))
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) == {"verdict", "confidence", "reasons", "needs_review"}
    assert out["verdict"] == "no_show" and out["needs_review"] is False


def test_explain_attendance_from_file_with_conflict(tmp_path: Path) -> None:
    payload = {"appointment": APPOINTMENT, "now": "2026-11-23T17:00:00Z",
               "signals": [{"kind": "scheduler_status", "value": "no_show", "at": "2026-11-23T16:00:00Z"},
                           {"kind": "check_in", "at": "2026-11-23T15:02:00Z"}]}
    f = tmp_path / "in.json"
    f.write_text(json.dumps(payload))
    out = json.loads(run("explain", "attendance", "--input", str(f)).output)
    assert out["verdict"] == "review" and out["needs_review"] is True


def test_explain_attendance_schema() -> None:
    result = run("explain", "attendance", "--schema")
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert "appointment" in schema["properties"] and "signals" in schema["properties"]


def test_explain_attendance_bad_input_exit_2() -> None:
    for stdin in ("{not json", json.dumps({"appointment": {"source": "x"}}), "[]"):
        result = run("explain", "attendance", "--input", "-", stdin=stdin)
        assert result.exit_code == 2, (stdin, result.output)
        assert "error:" in result.output and "Traceback" not in result.output
    assert run("explain", "attendance").exit_code == 2


def test_explain_send_deferred() -> None:
    payload = {"channel": "sms", "now": "2026-11-23T12:00:00Z", "phone": "+13052041234"}
    result = run("explain", "send", "--input", "-", stdin=json.dumps(payload))
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["allowed"] is False
    assert out["next_allowed_at"] == "2026-11-23T14:00:00+00:00"
    assert out["reasons"]


def test_explain_send_bad_input_exit_2() -> None:
    result = run("explain", "send", "--input", "-", stdin=json.dumps({"channel": "fax"}))
    assert result.exit_code == 2 and "channel" in result.output
    result = run("explain", "send", "--input", "-", stdin=json.dumps({"channel": "sms", "program": "nope"}))
    assert result.exit_code == 2 and "no program" in result.output


def test_lint_message_ok_and_not_ok() -> None:
    ok = run("lint-message", "--text", "Hi, want a new time? Reply STOP to opt out.", "--channel", "sms")
    assert ok.exit_code == 0
    assert json.loads(ok.output) == {"ok": True, "problems": [], "encoding": "GSM-7", "segments": 1}
    bad = run("lint-message", "--text", "Your {appointment_type} test results are in", "--channel", "sms",
              "--vertical", "healthcare")
    assert bad.exit_code == 1
    out = json.loads(bad.output)
    assert out["ok"] is False and {"phi_in_sms", "medical"} <= {p["code"] for p in out["problems"]}


def test_lint_message_bad_channel_exit_2() -> None:
    result = run("lint-message", "--text", "hi", "--channel", "fax")
    assert result.exit_code == 2
