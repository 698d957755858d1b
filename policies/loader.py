"""Loading, validating and resolving policy files. Pure apart from reading the file it is given."""

from __future__ import annotations

from fnmatch import fnmatchcase
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from domain.models import Appointment
from policies.schema import PolicyFile, Program, ResolvedProgram


class PolicyError(ValueError):
    """A policy file that does not validate; the message names the file, line and field."""


def default_policy_path() -> Path:
    return Path(str(resources.files("policies") / "defaults" / "default.yaml"))


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping key, so errors can point at it."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
    lines = {}
    for key_node, _ in node.value:
        lines[key_node.value] = key_node.start_mark.line + 1
    mapping["__lines__"] = lines  # type: ignore[index]
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _strip_lines(data: object) -> object:
    if isinstance(data, dict):
        return {k: _strip_lines(v) for k, v in data.items() if k != "__lines__"}
    if isinstance(data, list):
        return [_strip_lines(v) for v in data]
    return data


def _line_of(data: object, loc: tuple[int | str, ...]) -> int | None:
    line: int | None = None
    node = data
    for part in loc:
        if isinstance(node, dict):
            lines = node.get("__lines__", {})
            if part in lines:
                line = lines[part]
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            break
    return line


def parse_policy(text: str, filename: str = "<policy>") -> PolicyFile:
    try:
        raw = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - _LineLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{filename}:{mark.line + 1}" if mark else filename
        raise PolicyError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise PolicyError(f"{filename}:1: a policy file must be a mapping with 'version', 'sources', 'programs'")
    try:
        return PolicyFile.model_validate(_strip_lines(raw))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = _line_of(raw, loc)
            field = ".".join(str(p) for p in loc) or "(top level)"
            where = f"{filename}:{line}" if line else filename
            problems.append(f"{where}: {field}: {err['msg']}")
        raise PolicyError("\n".join(problems)) from None


def load_policy(path: str | Path | None = None) -> PolicyFile:
    p = Path(path) if path else default_policy_path()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{p}: cannot read policy file: {exc.strerror}") from None
    return parse_policy(text, str(p))


def _matches(patterns: list[str], value: str | None) -> bool:
    return any(fnmatchcase(value or "", pattern) for pattern in patterns)


def source_ignore_reason(policy: PolicyFile, appt: Appointment) -> str | None:
    """Why an appointment is outside the approved sources, or None when it is watched."""
    rules = [r for r in policy.sources if r.source == appt.source]
    if not rules:
        return "unmanaged_source"
    for rule in rules:
        if appt.private and rule.ignore_private:
            continue
        if _matches(rule.calendars, appt.calendar_id) and _matches(rule.appointment_types, appt.appointment_type):
            return None
    if appt.private:
        return "private_event"
    if not any(_matches(r.calendars, appt.calendar_id) for r in rules):
        return "unmanaged_calendar"
    return "type_without_rules"


def program_for(policy: PolicyFile, appt: Appointment) -> Program | None:
    for program in policy.programs:
        m = program.match
        if (
            _matches(m.sources, appt.source)
            and _matches(m.appointment_types, appt.appointment_type)
            and _matches(m.locations, appt.location_id or "")
        ):
            return program
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
        ),
        None,
    )
