"""Policy files: validation errors name file, line and field; the version travels with the case."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from policies.loader import PolicyError, default_policy_path, load_policy, parse_policy, resolve
from policies.messages import lint_policy
from policies.schema import PolicyFile

from .helpers import appt

DEFAULT_TEXT = default_policy_path().read_text(encoding="utf-8")

MINIMAL = """\
version: "v1"
sources:
  - source: local
programs:
  - name: p
    sequences:
      first_time:
        steps:
          - { delay_minutes: 5, template: hello, channels: [sms] }
templates:
  - id: hello
    channel: sms
    body: "Hi {first_name}, want a new time? Reply STOP to opt out."
    approved: true
    approved_by: ops
"""


def problems(text: str, filename: str = "p.yaml") -> list[str]:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, filename)
    return info.value.problems


def line_of(text: str, needle: str) -> int:
    for i, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(needle)


def test_default_policy_validates_and_passes_lint() -> None:
    policy = load_policy()
    assert policy.version
    errors = [p for p in lint_policy(policy) if p.severity == "error"]
    assert errors == []


def test_minimal_policy_parses() -> None:
    policy = parse_policy(MINIMAL, "p.yaml")
    assert policy.programs[0].name == "p"


def test_version_is_required_and_reported_with_line() -> None:
    text = MINIMAL.replace('version: "v1"\n', "")
    found = problems(text)
    assert any(p.startswith("p.yaml:1: version: required field is missing") for p in found), found


def test_version_must_be_a_string() -> None:
    found = problems(MINIMAL.replace('version: "v1"', "version: 3"))
    assert any(re.match(r"p\.yaml:1: version: .*string.*got 3", p) for p in found), found


def test_unknown_key_in_nested_list_item_names_line_and_suggests() -> None:
    text = MINIMAL.replace("- { delay_minutes: 5, template: hello, channels: [sms] }",
                           "- { delay_minutes: 5, template: hello, channels: [sms], delay_minute: 3 }")
    found = problems(text)
    line = line_of(text, "delay_minute: 3")
    assert any(
        p.startswith(f"p.yaml:{line}: programs.0.sequences.first_time.steps.0.delay_minute: unknown field")
        and "did you mean 'delay_minutes'" in p
        for p in found
    ), found


def test_bad_type_in_list_item_points_at_its_line() -> None:
    text = MINIMAL + "  - id: other\n    channel: sms\n    body: x\n    version: many\n"
    found = problems(text)
    line = line_of(text, "version: many")
    assert any(p.startswith(f"p.yaml:{line}: templates.1.version:") and "many" in p for p in found), found


def test_bad_channel_enum() -> None:
    text = MINIMAL.replace("channels: [sms]", "channels: [sms, fax]")
    found = problems(text)
    line = line_of(text, "fax")
    assert any(p.startswith(f"p.yaml:{line}: programs.0.sequences.first_time.steps.0.channels.1:") for p in found)


def test_bad_time_zone_and_bad_hhmm() -> None:
    text = MINIMAL.replace(
        "    sequences:\n",
        "    send:\n      window_start: \"9am\"\n      window_end: \"25:00\"\n      default_timezone: Mars/Olympus\n"
        "    sequences:\n",
    )
    found = problems(text)
    for field, needle in (("window_start", "9am"), ("window_end", "25:00"), ("default_timezone", "Mars")):
        line = line_of(text, needle)
        assert any(p.startswith(f"p.yaml:{line}: programs.0.send.{field}:") for p in found), (field, found)


def test_send_window_outside_federal_hours_rejected() -> None:
    text = MINIMAL.replace("    sequences:\n", "    send: { window_start: \"07:00\", window_end: \"20:00\" }\n"
                                               "    sequences:\n")
    found = problems(text)
    assert any("programs.0.send" in p and "08:00-21:00" in p for p in found), found


def test_state_window_key_and_times_validated() -> None:
    text = MINIMAL.replace("    sequences:\n", "    send:\n      state_windows: { Florida: [\"08:00\", \"20:00\"],"
                                               " US-OK: [\"08:00\", \"8pm\"] }\n    sequences:\n")
    found = problems(text)
    assert any("state_windows.Florida" in p and "ISO 3166-2" in p for p in found), found
    assert any("state_windows.US-OK.1" in p for p in found), found


def test_sequence_template_that_does_not_exist() -> None:
    text = MINIMAL.replace("template: hello", "template: nope")
    found = problems(text)
    line = line_of(text, "template: nope")
    assert f"p.yaml:{line}: programs.0.sequences.first_time.steps.0.template: template 'nope' does not exist" in found


def test_sequence_template_not_approved_for_any_channel() -> None:
    text = MINIMAL.replace("    approved: true\n    approved_by: ops\n", "    approved: false\n")
    found = problems(text)
    assert any("steps.0.template: template 'hello' is not approved for any of: sms" in p for p in found), found


def test_approved_template_needs_approver() -> None:
    text = MINIMAL.replace("    approved_by: ops\n", "")
    found = problems(text)
    line = line_of(text, "- id: hello")
    assert any(p.startswith(f"p.yaml:{line}: templates.0: ") and "approved_by" in p for p in found), found


def test_duplicate_template_id_channel_locale_version() -> None:
    dup = "  - id: hello\n    channel: sms\n    body: \"Hi again. Reply STOP to opt out.\"\n"
    text = MINIMAL + dup
    found = problems(text)
    line = len(MINIMAL.splitlines()) + 1
    assert any(p.startswith(f"p.yaml:{line}: templates.1.id: duplicate template 'hello'") for p in found), found
    # another version or locale is not a duplicate
    parse_policy(MINIMAL + dup + "    version: 2\n")
    parse_policy(MINIMAL + dup + "    locale: es\n")


def test_duplicate_yaml_key_is_an_error() -> None:
    text = MINIMAL.replace('version: "v1"\n', 'version: "v1"\nversion: "v2"\n')
    found = problems(text)
    assert any(p.startswith("p.yaml:2: version: key appears twice") for p in found), found


def test_not_yaml_and_not_a_mapping() -> None:
    assert problems("version: [unclosed\n")[0].startswith("p.yaml:")
    assert "mapping" in problems("- a\n- b\n")[0]


def test_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")


def test_every_problem_is_reported_not_only_the_first() -> None:
    text = MINIMAL.replace("delay_minutes: 5", "delay_minutes: -1").replace("channel: sms\n", "channel: pigeon\n")
    found = problems(text)
    assert len(found) >= 2
    assert all(re.match(r"p\.yaml:\d+: \S+: ", p) for p in found), found


def test_resolve_returns_policy_version_and_program() -> None:
    policy = load_policy()
    resolved, reason = resolve(policy, appt())
    assert reason is None and resolved is not None
    assert resolved.policy_version == policy.version
    assert resolved.program.name == "default"
    demo, _ = resolve(policy, appt(source="demo", calendar_id="cal-dr-lee"))
    assert demo is not None and demo.program.name == "demo"
    assert resolved.templates == policy.templates


def test_policy_model_rejects_cross_reference_errors_when_built_in_code() -> None:
    data = parse_policy(MINIMAL).model_dump()
    data["programs"][0]["sequences"]["first_time"]["steps"][0]["template"] = "ghost"
    with pytest.raises(ValueError, match="ghost"):
        PolicyFile.model_validate(data)


def test_default_text_is_the_file_loaded() -> None:
    assert parse_policy(DEFAULT_TEXT).version == load_policy().version
