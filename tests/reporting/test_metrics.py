from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from reporting.ledger import Ledger
from reporting.metrics import METRICS, ReportError, build_report, make_filters, resolve_by
from tests.reporting.conftest import fill_demo
from tests.reporting.demo import EXPECTED_TOTAL


@pytest.fixture(scope="module")
def demo_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    """One demo ledger for the module: every test here only reads it (build_report writes nothing)."""
    led = Ledger.open(f"sqlite:///{tmp_path_factory.mktemp('metrics') / 'ledger.db'}")
    yield fill_demo(led)
    led.close()


def test_every_metric_matches_the_hand_count(demo_ledger: Ledger) -> None:
    report = build_report(demo_ledger)
    assert set(EXPECTED_TOTAL) == {m.name for m in METRICS}  # a new metric needs a hand count too
    assert report.total.values == EXPECTED_TOTAL


def test_reasons_and_experiments(demo_ledger: Ledger) -> None:
    report = build_report(demo_ledger)
    assert [(c.key, c.count) for c in report.reply_reasons] == [("opt_out", 1), ("pick_slot", 1), ("question", 1)]
    assert [(c.key, c.count) for c in report.ignore_reasons] == [("unmanaged_calendar", 1)]
    arms = {a.arm: a for a in report.experiments}
    assert [a.arm for a in report.experiments] == ["holdout", "direct", "friendly"]
    assert (arms["holdout"].cases, arms["holdout"].recovered, arms["holdout"].holdout) == (2, 1, True)  # c d
    assert (arms["friendly"].cases, arms["friendly"].recovered) == (2, 1)  # a b
    assert (arms["direct"].cases, arms["direct"].recovered, arms["direct"].recovery_rate) == (1, 0, 0.0)  # g
    assert arms["friendly"].lift == 0.0
    assert arms["friendly"].lift_low is not None and arms["friendly"].lift_low < 0 < (arms["friendly"].lift_high or 0)
    assert arms["holdout"].lift is None


def test_group_by_week_attributes_cases_to_the_week_they_opened(demo_ledger: Ledger) -> None:
    report = build_report(demo_ledger, by="week")
    weeks = {r.group: r.values for r in report.groups}
    assert list(weeks) == ["2025-03-03", "2025-03-10"]
    assert weeks["2025-03-03"]["cases"] == 5  # a b c i j (b closes the next week)
    assert weeks["2025-03-03"]["lost_revenue_risk"] == 250.0  # b c
    assert weeks["2025-03-10"]["cases"] == 5  # d e f g h
    assert weeks["2025-03-10"]["recovered_revenue"] == 80.0  # d
    assert report.weekly == report.groups


def test_group_by_channel_uses_the_first_message(demo_ledger: Ledger) -> None:
    groups = {r.group: r.values for r in build_report(demo_ledger, by="channel").groups}
    assert list(groups) == ["(none)", "email", "sms"]
    assert (groups["email"]["cases"], groups["email"]["messages_sent"]) == (1, 2)  # b: email first, then sms
    assert (groups["sms"]["cases"], groups["sms"]["messages_sent"], groups["sms"]["recovered"]) == (3, 3, 1)
    assert groups["(none)"]["cases"] == 6


@pytest.mark.parametrize("by,key,cases", [
    ("source", "calendly", 3), ("appointment_type", "cleaning", 2), ("owner_id", "o1", 5), ("owner", "o2", 4),
    ("location_id", "(none)", 1), ("template_id", "t1", 2), ("segment", "first_time", 2), ("arm", "exp/holdout", 2),
])
def test_every_grouping(demo_ledger: Ledger, by: str, key: str, cases: int) -> None:
    report = build_report(demo_ledger, by=by)
    groups = {r.group: r.values for r in report.groups}
    assert groups[key]["cases"] == cases
    assert sum(int(v["cases"] or 0) for v in groups.values()) == 10  # every case in exactly one group


@pytest.mark.parametrize("filters,expected", [
    ({"since": "2025-03-10"}, {"cases": 5, "recovered": 1}),
    ({"until": "2025-03-09"}, {"cases": 5, "recovered": 1}),  # a bare date includes the whole day
    ({"since": "2025-03-04T10:00:00Z", "until": "2025-03-04T10:00:00.000001+00:00"}, {"cases": 0}),
    ({"source": "calendly"}, {"cases": 3, "recovered": 1, "open_cases": 1}),
    ({"appointment_type": "cleaning"}, {"cases": 2, "ignored": 1}),
    ({"owner": "o1", "location": "l1"}, {"cases": 4, "lost_revenue_risk": 100.0}),  # a d g h
    ({"channel": "sms"}, {"cases": 3, "replies": 3}),
    ({"channel": "(none)"}, {"cases": 6}),
    ({"template": "t2"}, {"cases": 1, "messages_failed": 1}),
    ({"segment": "first_time"}, {"cases": 2, "opt_outs": 1}),
    ({"arm": "exp/holdout"}, {"cases": 2, "recovered": 1, "recovery_rate": 0.5}),
    ({"source": "nowhere"}, {"cases": 0, "recovery_rate": None, "lost_revenue_risk": 0.0}),
])
def test_filters(demo_ledger: Ledger, filters: dict[str, str], expected: dict[str, object]) -> None:
    values = build_report(demo_ledger, make_filters(**filters)).total.values
    assert {k: values[k] for k in expected} == expected


def test_relative_periods_use_the_given_clock() -> None:
    now = datetime(2025, 3, 20, tzinfo=UTC)
    assert make_filters(since="2w", now=now).since == datetime(2025, 3, 6, tzinfo=UTC)
    assert make_filters(since="10d", now=now).since == datetime(2025, 3, 10, tzinfo=UTC)


@pytest.mark.parametrize("kwargs,message", [
    ({"since": "yesterday-ish"}, "since"),
    ({"until": "2025-13-01"}, "until"),
    ({"since": "2025-03-10", "until": "2025-03-01"}, "before"),
    ({"channel": "fax"}, "channel"),
    ({"source": "<script>"}, "source"),
    ({"colour": "red"}, "unknown filter"),
])
def test_bad_filters_are_explained(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ReportError, match=message):
        make_filters(**kwargs)


def test_bad_grouping_is_explained() -> None:
    with pytest.raises(ReportError, match="not a grouping"):
        resolve_by("phone")
    assert resolve_by("template") == "template_id"
    assert resolve_by(" ") is None


def test_an_empty_ledger_reports_zeros(ledger: Ledger) -> None:
    report = build_report(ledger, by="source")
    assert report.groups == []
    assert report.total.values["cases"] == 0
    assert report.total.values["recovery_rate"] is None
