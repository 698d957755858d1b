"""`noshow policy check`, `noshow explain attendance|send` and `noshow lint-message`.

Plain typer commands for the main `noshow` app to register:

    app.add_typer(policy_app, name="policy")
    explain_app.command("attendance")(explain_attendance)
    explain_app.command("send")(explain_send)
    app.command("lint-message")(lint_message)

Exit codes: 0 ok, 1 the policy or message fails its checks, 2 bad input (unreadable file, invalid JSON,
wrong fields). Bad input never prints a traceback.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from domain.models import Appointment, AttendanceSignal, Channel
from policies.attendance import AttendanceInput, decide
from policies.loader import PolicyError, default_policy_path, line_index, load_policy, program_for
from policies.messages import lint, lint_policy
from policies.schema import AttendanceRules, PolicyFile, Purpose, SendRules
from policies.send_rules import SendCheckInput, check_send

policy_app = typer.Typer(help="Check policy files.", no_args_is_help=True)


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _print(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def _load(path: Path | None) -> PolicyFile:
    try:
        return load_policy(path)
    except PolicyError as exc:
        _fail(str(exc))


def _read_input(source: str | None) -> Any:
    if not source:
        _fail("--input FILE (or - for stdin) is required")
    if source == "-":
        text = sys.stdin.read()
        where = "stdin"
    else:
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            _fail(f"cannot read {source}: {getattr(exc, 'strerror', None) or exc}")
        where = source
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(f"{where}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}")


def _validation_failure(exc: ValidationError) -> NoReturn:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(input)"
        lines.append(f"  {loc}: {err['msg']}")
    _fail("invalid input:\n" + "\n".join(lines))


# ---------------------------------------------------------------- policy check


@policy_app.command("check")
def check(
    file: Annotated[Path | None, typer.Argument(help="Policy file (default: the shipped default policy)")] = None,
) -> None:
    """Validate a policy file: schema, cross references and the message linter. Exit 1 on any error."""
    path = file or default_policy_path()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{path}: cannot read policy file: {getattr(exc, 'strerror', None) or exc}")
    try:
        policy = load_policy(path)
    except PolicyError as exc:
        for problem in exc.problems:
            typer.echo(problem)
        typer.echo(f"{path}: {len(exc.problems)} error(s)", err=True)
        raise typer.Exit(1) from None
    lines = line_index(text)
    problems = lint_policy(policy)
    errors = 0
    for p in problems:
        line = _line(lines, p.loc)
        field = ".".join(str(x) for x in p.loc) or "(top level)"
        typer.echo(f"{path}:{line}: {field}: {p.severity}: {p.code}: {p.message}")
        errors += p.severity == "error"
    if errors:
        typer.echo(f"{path}: {errors} error(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"ok: {path} version {policy.version}, {len(policy.programs)} program(s), "
               f"{len(policy.templates)} template(s), {len(problems)} warning(s)")


def _line(lines: dict[tuple[str | int, ...], int], loc: tuple[str | int, ...]) -> int:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


# ---------------------------------------------------------------- explain attendance


class ExplainAttendanceInput(BaseModel):
    """An appointment with its attendance signals. Rules come from the policy unless given here."""

    model_config = ConfigDict(extra="forbid")

    appointment: Appointment
    signals: list[AttendanceSignal] = Field(default_factory=list)
    now: AwareDatetime | None = Field(default=None, description="decision time; default: the current time")
    rules: AttendanceRules | None = Field(default=None, description="override the policy's attendance rules")


def explain_attendance(
    input: Annotated[str | None, typer.Option("--input", help="JSON file with the appointment and signals, or -")]
    = None,
    schema: Annotated[bool, typer.Option("--schema", help="Print the input's JSON Schema and exit")] = False,
    policy: Annotated[Path | None, typer.Option("--policy", help="Policy file (default: shipped default)")] = None,
) -> None:
    """Explain the attendance verdict for one appointment: verdict, confidence, reasons, needs_review."""
    if schema:
        _print(ExplainAttendanceInput.model_json_schema())
        return
    raw = _read_input(input)
    try:
        inp = ExplainAttendanceInput.model_validate(raw)
    except ValidationError as exc:
        _validation_failure(exc)
    rules = inp.rules
    if rules is None:
        loaded = _load(policy)
        program = program_for(loaded, inp.appointment)
        rules = program.attendance if program else AttendanceRules()
    decision = decide(AttendanceInput(
        appointment=inp.appointment, signals=inp.signals, now=inp.now or datetime.now(UTC), rules=rules,
    ))
    _print({
        "verdict": decision.verdict.value,
        "confidence": decision.confidence,
        "reasons": decision.reasons,
        "needs_review": decision.needs_review,
    })


# ---------------------------------------------------------------- explain send


class ExplainSendInput(BaseModel):
    """One message about to go. Send rules come from the policy's program unless given here."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    now: AwareDatetime | None = None
    phone: str | None = None
    contact_timezone: str | None = None
    contact_state: str | None = None
    recent_sends: list[AwareDatetime] = Field(default_factory=list)
    created_at: AwareDatetime | None = None
    purpose: str = "recovery"
    program: str | None = Field(default=None, description="program name in the policy (default: the first)")
    rules: SendRules | None = None


def explain_send(
    input: Annotated[str | None, typer.Option("--input", help="JSON file describing the message, or -")] = None,
    schema: Annotated[bool, typer.Option("--schema", help="Print the input's JSON Schema and exit")] = False,
    policy: Annotated[Path | None, typer.Option("--policy", help="Policy file (default: shipped default)")] = None,
) -> None:
    """Explain whether a message may go now, the next allowed instant, and why."""
    if schema:
        _print(ExplainSendInput.model_json_schema())
        return
    raw = _read_input(input)
    try:
        inp = ExplainSendInput.model_validate(raw)
    except ValidationError as exc:
        _validation_failure(exc)
    rules = inp.rules
    if rules is None:
        loaded = _load(policy)
        programs = [p for p in loaded.programs if inp.program in (None, p.name)]
        if not programs:
            _fail(f"no program named {inp.program!r} in the policy")
        rules = programs[0].send
    now = inp.now or datetime.now(UTC)
    try:
        decision = check_send(SendCheckInput(
            now=now, channel=inp.channel, rules=rules, contact_timezone=inp.contact_timezone, phone=inp.phone,
            contact_state=inp.contact_state, recent_sends=inp.recent_sends, created_at=inp.created_at,
            purpose=inp.purpose,
        ))
    except ValidationError as exc:
        _validation_failure(exc)
    _print({
        "allowed": decision.allowed,
        "now": now.isoformat(),
        "next_allowed_at": decision.next_allowed_at.isoformat() if decision.next_allowed_at else None,
        "expired": decision.expired,
        "blocked": decision.blocked,
        "reasons": decision.reasons,
        "zones": decision.zones,
        "window": decision.window,
        "states": decision.states,
    })


# ---------------------------------------------------------------- lint-message


class LintChannel(StrEnum):
    sms = "sms"
    whatsapp = "whatsapp"
    email = "email"
    push = "push"
    app = "app"


def lint_message(
    text: Annotated[str, typer.Option("--text", help="The message text (placeholders such as {first_name} ok)")],
    channel: Annotated[LintChannel, typer.Option("--channel", help="sms, whatsapp, email, push or app")],
    vertical: Annotated[str, typer.Option("--vertical", help="Program vertical, e.g. general or healthcare")]
    = "general",
    purpose: Annotated[Purpose, typer.Option("--purpose", help="informational or marketing")]
    = Purpose.informational,
    first: Annotated[bool, typer.Option("--first", help="Lint as the first SMS of a sequence")] = False,
    max_segments: Annotated[int | None, typer.Option("--max-segments", min=1)] = None,
) -> None:
    """Lint one message: {"ok", "problems", "encoding", "segments"}; exit 0 when ok, 1 when not."""
    result = lint(text, Channel(channel.value), vertical=vertical, purpose=purpose, first_message=first,
                  max_segments=max_segments)
    _print({
        "ok": result.ok,
        "problems": [{"code": p.code, "message": p.message} for p in result.problems],
        "encoding": result.encoding,
        "segments": result.segments,
    })
    if not result.ok:
        raise typer.Exit(1)
