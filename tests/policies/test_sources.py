"""Source map and coverage: unmanaged calendars, private events and types without rules are ignored."""

from __future__ import annotations

from policies.loader import coverage, load_policy, parse_policy, resolve, source_ignore_reason

from .helpers import appt

POLICY = """\
version: "s1"
sources:
  - source: calcom
    calendars: ["team-*"]
    ignore_calendars: ["team-private"]
    appointment_types: ["demo", "consult*"]
    ignore_types: ["consult-internal"]
  - source: google
    ignore_private: false
programs:
  - name: demos
    match: { sources: [calcom], appointment_types: [demo] }
    sequences: { first_time: { steps: [{ delay_minutes: 0, template: t, channels: [email] }] } }
  - name: google-only
    match: { sources: [google], appointment_types: ["*"] }
    sequences: { first_time: { steps: [{ delay_minutes: 0, template: t, channels: [email] }] } }
templates:
  - { id: t, channel: email, body: "Would you like a new time?", approved: true, approved_by: ops }
"""


def test_reasons() -> None:
    p = parse_policy(POLICY)
    assert source_ignore_reason(p, appt(source="hubspot")) == "unmanaged_source"
    assert source_ignore_reason(p, appt(source="calcom", calendar_id="personal")) == "unmanaged_calendar"
    assert source_ignore_reason(p, appt(source="calcom", calendar_id="team-private")) == "unmanaged_calendar"
    assert source_ignore_reason(p, appt(source="calcom", calendar_id="team-a", appointment_type="demo",
                                        private=True)) == "private_event"
    assert source_ignore_reason(p, appt(source="calcom", calendar_id="team-a", appointment_type="lunch")) \
        == "type_without_rules"
    assert source_ignore_reason(p, appt(source="calcom", calendar_id="team-a",
                                        appointment_type="consult-internal")) == "type_without_rules"
    assert source_ignore_reason(p, appt(source="calcom", calendar_id="team-a", appointment_type="demo")) is None
    # this source's rule keeps private events
    assert source_ignore_reason(p, appt(source="google", private=True)) is None


def test_watched_source_type_without_a_program_is_ignored() -> None:
    p = parse_policy(POLICY)
    resolved, reason = resolve(p, appt(source="calcom", calendar_id="team-a", appointment_type="consultation"))
    assert resolved is None and reason == "type_without_rules"


def test_coverage_counts_watched_and_ignored() -> None:
    p = parse_policy(POLICY)
    items = [
        appt(source="calcom", calendar_id="team-a", appointment_type="demo"),
        appt(source="calcom", calendar_id="team-b", appointment_type="demo"),
        appt(source="google"),
        appt(source="hubspot"),
        appt(source="calcom", calendar_id="personal"),
        appt(source="calcom", calendar_id="team-a", appointment_type="demo", private=True),
        appt(source="calcom", calendar_id="team-a", appointment_type="consultation"),
    ]
    c = coverage(p, items)
    assert c.total == 7 and c.watched == 3
    assert c.by_program == {"demos": 2, "google-only": 1}
    assert c.ignored == {"unmanaged_source": 1, "unmanaged_calendar": 1, "private_event": 1,
                         "type_without_rules": 1}
    assert abs(c.ratio - 3 / 7) < 1e-9
    assert coverage(p, []).ratio == 1.0


def test_default_policy_ignores_unknown_sources_and_private_events() -> None:
    p = load_policy()
    assert resolve(p, appt(source="somewhere_else"))[1] == "unmanaged_source"
    assert resolve(p, appt(private=True))[1] == "private_event"
    assert resolve(p, appt(appointment_type="team_lunch"))[1] == "type_without_rules"
