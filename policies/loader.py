"""Loading, validating and resolving policy files. Pure apart from reading the file it is given.

Every problem is reported as `file:line: field.path: message`, one per line, so that an ops person can go
straight to the line to fix.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable
from fnmatch import fnmatchcase
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from domain.models import Appointment
from policies.schema import PolicyFile, Program, ResolvedProgram, cross_check, field_names


class PolicyError(ValueError):
    """A policy file that does not validate; the message names the file, line and field."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems if problems is not None else message.splitlines()


def default_policy_path() -> Path:
    return Path(str(resources.files("policies") / "defaults" / "default.yaml"))


Loc = tuple[str | int, ...]


def _index_lines(node: yaml.Node, path: Loc, lines: dict[Loc, int], duplicates: list[tuple[Loc, int]]) -> None:
    """Map every field path (keys and list positions) to the 1-based line it starts on."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in seen:
                duplicates.append((child, key_node.start_mark.line + 1))
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _index_lines(value_node, child, lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            child = (*path, i)
            lines[child] = item.start_mark.line + 1
            _index_lines(item, child, lines, duplicates)


def line_index(text: str) -> dict[Loc, int]:
    """Field path -> line for a policy's YAML text (empty when the text is not YAML)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    lines: dict[Loc, int] = {}
    if root is not None:
        _index_lines(root, (), lines, [])
    return lines


def _line_for(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of the longest prefix of `loc` present in the file (a missing field points at its parent)."""
    for end in range(len(loc), -1, -1):
        prefix = loc[:end]
        if prefix in lines:
            return lines[prefix]
    return None


def _normalise_loc(loc: Iterable[Any]) -> Loc:
    # pydantic adds pseudo parts such as "[key]" or "function-after[...]"; the file has neither
    out: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and (part.startswith("function-") or part == "[key]"):
            continue
        out.append(part if isinstance(part, int) else str(part))
    return tuple(out)


_FIELDS = field_names()


def _message(err: Any) -> str:
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if kind == "extra_forbidden":
        name = str(err["loc"][-1]) if err.get("loc") else ""
        close = difflib.get_close_matches(name, sorted(_FIELDS), n=1)
        return f"unknown field {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
    if kind == "missing":
        return "required field is missing"
    value = err.get("input")
    if kind.endswith("_type") or kind.endswith("_parsing") or kind == "enum":
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return f"{msg} (got {shown})"
    return msg


def parse_policy(text: str, filename: str = "<policy>") -> PolicyFile:
    """Validate a policy's YAML text; raises PolicyError naming file:line: field for every problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{filename}:{mark.line + 1}" if mark else filename
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError(f"{where}: (yaml): not valid YAML: {problem}") from None
    if root is None or not isinstance(raw, dict):
        raise PolicyError(f"{filename}:1: (top level): a policy file must be a mapping with 'version', "
                          "'sources' and 'programs'")
    lines: dict[Loc, int] = {}
    duplicates: list[tuple[Loc, int]] = []
    _index_lines(root, (), lines, duplicates)
    problems = [
        f"{filename}:{line}: {'.'.join(str(p) for p in loc)}: key appears twice (the second would silently win)"
        for loc, line in duplicates
    ]
    policy: PolicyFile | None = None
    try:
        policy = PolicyFile.model_validate(raw, context={"defer_cross_checks": True})
    except ValidationError as exc:
        for err in exc.errors():
            loc = _normalise_loc(err["loc"])
            line = _line_for(lines, loc) or 1
            field = ".".join(str(p) for p in loc) or "(top level)"
            problems.append(f"{filename}:{line}: {field}: {_message(err)}")
    if policy is not None:
        for loc, msg in cross_check(policy):
            line = _line_for(lines, loc) or 1
            problems.append(f"{filename}:{line}: {'.'.join(str(p) for p in loc)}: {msg}")
    if problems:
        problems = sorted(dict.fromkeys(problems), key=_sort_key)
        raise PolicyError("\n".join(problems), problems)
    assert policy is not None
    return policy


def _sort_key(problem: str) -> tuple[int, str]:
    parts = problem.split(":", 2)
    try:
        return int(parts[1]), problem
    except (IndexError, ValueError):
        return 0, problem


def load_policy(path: str | Path | None = None) -> PolicyFile:
    p = Path(path) if path else default_policy_path()
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PolicyError(f"{p}:1: (file): not UTF-8 text") from None
    except OSError as exc:
        raise PolicyError(f"{p}: (file): cannot read policy file: {exc.strerror or exc}") from None
    return parse_policy(text, str(p))


def _matches(patterns: list[str], value: str | None) -> bool:
    return any(fnmatchcase(value or "", pattern) for pattern in patterns)


def source_ignore_reason(policy: PolicyFile, appt: Appointment) -> str | None:
    """Why an appointment is outside the approved sources, or None when it is watched.

    Reasons: unmanaged_source, unmanaged_calendar, private_event, type_without_rules.
    """
    rules = [r for r in policy.sources if r.source == appt.source]
    if not rules:
        return "unmanaged_source"
    calendar_ok = [
        r for r in rules
        if _matches(r.calendars, appt.calendar_id) and not _matches(r.ignore_calendars, appt.calendar_id)
    ]
    if not calendar_ok:
        return "unmanaged_calendar"
    if appt.private and all(r.ignore_private for r in calendar_ok):
        return "private_event"
    for rule in calendar_ok:
        if appt.private and rule.ignore_private:
            continue
        if _matches(rule.appointment_types, appt.appointment_type) and not _matches(
            rule.ignore_types, appt.appointment_type
        ):
            return None
    return "type_without_rules"


def program_for(policy: PolicyFile, appt: Appointment) -> Program | None:
    """The first program whose match covers the appointment (order in the file is priority)."""
    for program in policy.programs:
        m = program.match
        if (
            _matches(m.sources, appt.source)
            and _matches(m.appointment_types, appt.appointment_type)
            and _matches(m.locations, appt.location_id or "")
        ):
            return program
    return None


def ignore_reason(policy: PolicyFile, appt: Appointment) -> str | None:
    """Why no case is opened for this appointment (source map or no program), or None when it is watched."""
    reason = source_ignore_reason(policy, appt)
    if reason:
        return reason
    if program_for(policy, appt) is None:
        return "type_without_rules"
    return None


def resolve(policy: PolicyFile, appt: Appointment) -> tuple[ResolvedProgram | None, str | None]:
    """The program a case for this appointment runs under, or the reason it is not watched."""
    reason = source_ignore_reason(policy, appt)
    if reason:
        return None, reason
    program = program_for(policy, appt)
    if program is None:
        return None, "type_without_rules"
    return (
        ResolvedProgram(
            policy_version=policy.version,
            program=program,
            templates=policy.templates,
            help_text=policy.help_text,
            opt_out_confirmation=policy.opt_out_confirmation,
            opt_out_clarification=policy.opt_out_clarification,
        ),
        None,
    )


class Coverage(BaseModel):
    """How many appointments the policy watches, and why the rest are ignored."""

    total: int
    watched: int
    ignored: dict[str, int]
    by_program: dict[str, int]
    ratio: float  # watched / total, 1.0 when there is nothing to count


def coverage(policy: PolicyFile, appointments: Iterable[Appointment]) -> Coverage:
    ignored: Counter[str] = Counter()
    programs: Counter[str] = Counter()
    total = 0
    for appt in appointments:
        total += 1
        resolved, reason = resolve(policy, appt)
        if resolved is None:
            ignored[reason or "unknown"] += 1
        else:
            programs[resolved.program.name] += 1
    watched = sum(programs.values())
    return Coverage(
        total=total, watched=watched, ignored=dict(ignored), by_program=dict(programs),
        ratio=watched / total if total else 1.0,
    )
