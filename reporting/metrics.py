"""The recovery metrics: defined once here, computed with SQL aggregates over `case_facts`.

The dashboard page, its JSON and CSV, and `noshow report` all call `build_report`, so they cannot disagree.
Every metric is attributed to a case, and a case to the week it opened (cohort reporting): a later event
(a reply, a rebooking) counts in the week its case opened, so past weeks settle instead of drifting.

Waitlist backfills (ids `backfill-...`) have their own rows and their own metric group: they count in no case
metric. Their messages do count in the message totals (sent, delivered, failed), which are about every customer
message (caps and costs), not about cases.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, and_, func, literal_column, select, true

from domain.models import Channel
from policies.experiments import HOLDOUT, split_arm
from reporting.experiments import lift_interval
from reporting.facts import DETECTION_OUTCOMES
from reporting.ledger import Ledger
from reporting.schema import case_facts as f
from reporting.schema import ledger_events as e

NONE_LABEL = "(none)"  # the group of cases without a value; also accepted as a filter value
Unit = Literal["count", "rate", "money", "minutes"]
Value = int | float | None


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    section: str
    unit: Unit
    formula: str  # what the page shows; precise enough to recount by hand
    sql: str | None = None  # aggregate over case_facts
    ratio: tuple[str, str] | None = None  # (numerator, denominator) metric names


DETECTION = DETECTION_OUTCOMES


METRICS: tuple[Metric, ...] = (
    # coverage
    Metric("cases", "Cases", "Coverage", "count",
           "Distinct case ids whose case opened in the period (opening time: the case_opened event, else the "
           "case's first event). Waitlist backfill ids (`backfill-...`) are not cases and count in no case "
           "metric.", "COUNT(*) - SUM(backfill)"),
    Metric("watched", "Appointments watched", "Coverage", "count",
           "Cases without an `ignored` event.", "SUM(watched)"),
    Metric("ignored", "Appointments ignored", "Coverage", "count",
           "Cases with an `ignored` event (unmanaged source or calendar, private event, type without rules).",
           "SUM(ignored)"),
    Metric("coverage", "Coverage", "Coverage", "rate", "watched / cases.", ratio=("watched", "cases")),
    # detection
    Metric("detected", "Attendance verdicts", "Detection", "count",
           f"Cases whose last `verdict` outcome is one of {', '.join(DETECTION)}.",
           "SUM(detected)"),
    *(
        Metric(f"verdict_{v}", f"Verdict: {v.replace('_', ' ')}" if v != "no_show" else "No-shows",
               "Detection", "count", f"Cases whose last `verdict` outcome is `{v}`.", f"SUM(verdict_{v})")
        for v in DETECTION
    ),
    Metric("no_show_rate", "No-show rate", "Detection", "rate",
           "verdict_no_show / detected.", ratio=("verdict_no_show", "detected")),
    Metric("reschedule_rate", "Reschedule rate", "Detection", "rate",
           "verdict_rescheduled / detected: appointments the customer moved instead of missing.",
           ratio=("verdict_rescheduled", "detected")),
    # messaging
    Metric("contacted", "Cases contacted", "Messaging", "count",
           "Cases with at least one `message_sent` event (backfills are not cases: see Waitlist offers sent).",
           "SUM(contacted)"),
    Metric("messages_sent", "Messages sent", "Messaging", "count",
           "Count of `message_sent` events: every customer message, a case's or a waitlist backfill's (offers, "
           "slot-gone notes, booking confirmations), since sending caps and costs count them all.",
           "SUM(messages_sent)"),
    Metric("messages_delivered", "Messages delivered", "Messaging", "count",
           "Count of `message_delivered` events (cases and backfills, like messages_sent).",
           "SUM(messages_delivered)"),
    Metric("messages_failed", "Messages failed", "Messaging", "count",
           "Count of `message_failed` events (cases and backfills, like messages_sent).", "SUM(messages_failed)"),
    Metric("delivery_rate", "Delivery rate", "Messaging", "rate", "messages_delivered / messages_sent.",
           ratio=("messages_delivered", "messages_sent")),
    Metric("replies", "Replies", "Messaging", "count",
           "Count of `reply_received` events of cases (answers to waitlist offers are not counted).",
           "SUM(replies)"),
    Metric("replied", "Cases that replied", "Messaging", "count",
           "Cases with at least one `reply_received` event.", "SUM(replied)"),
    Metric("reply_rate", "Reply rate", "Messaging", "rate", "replied / contacted.", ratio=("replied", "contacted")),
    Metric("opt_outs", "Opt-outs", "Messaging", "count",
           "Cases with an `opt_out` event or closed with outcome `opted_out`.", "SUM(opted_out)"),
    # before the appointment: the watching stage's confirmation and reminders
    Metric("confirmations_sent", "Confirmations sent", "Before the appointment", "count",
           "Cases with a `watch_sent` event of reason `confirmation` (the booking's confirmation request went out "
           "on at least one channel).", "SUM(confirmation_sent)"),
    Metric("confirmed", "Appointments confirmed", "Before the appointment", "count",
           "Cases counted in confirmations_sent that also have a `watch_confirmed` event (the customer answered "
           "C, confirm, sí ...).", "SUM(confirmed)"),
    Metric("confirmation_rate", "Confirmation rate", "Before the appointment", "rate",
           "confirmed / confirmations_sent.", ratio=("confirmed", "confirmations_sent")),
    Metric("reminded", "Reminded appointments", "Before the appointment", "count",
           "Cases with a `watch_sent` event of reason `reminder` whose attendance is known (a detection "
           "verdict), not ignored.", "SUM(reminded)"),
    Metric("reminded_attended", "Reminded and attended", "Before the appointment", "count",
           "Reminded cases whose last verdict is `attended` or that closed as attended.", "SUM(reminded_attended)"),
    Metric("reminded_attendance_rate", "Attendance after a reminder", "Before the appointment", "rate",
           "reminded_attended / reminded.", ratio=("reminded_attended", "reminded")),
    Metric("not_reminded", "Appointments not reminded", "Before the appointment", "count",
           "Watched cases with a detection verdict and no `watch_sent` reminder (no reminder rule, booked too "
           "late, or the booking was not watched).", "SUM(not_reminded)"),
    Metric("not_reminded_attended", "Not reminded and attended", "Before the appointment", "count",
           "Not-reminded cases whose last verdict is `attended` or that closed as attended.",
           "SUM(not_reminded_attended)"),
    Metric("not_reminded_attendance_rate", "Attendance without a reminder", "Before the appointment", "rate",
           "not_reminded_attended / not_reminded: the comparison for attendance after a reminder (the groups are "
           "not randomised: use an experiment for a causal answer).", ratio=("not_reminded_attended", "not_reminded")),
    # recovery
    Metric("recoverable", "Recoverable cases", "Recovery", "count",
           "Cases not ignored, with a verdict other than attended or rescheduled, not closed as attended.",
           "SUM(recoverable)"),
    Metric("recovered", "Recovered bookings", "Recovery", "count", "Cases with a `rebooked` event.",
           "SUM(rebooked)"),
    Metric("recovery_rate", "Recovery rate", "Recovery", "rate", "recovered / recoverable.",
           ratio=("recovered", "recoverable")),
    Metric("minutes_to_rebook", "Mean time to rebook (minutes)", "Recovery", "minutes",
           "Mean of data.minutes_to_rebook on each recovered case's first `rebooked` event (cases without it "
           "are left out).", ratio=("_rebook_minutes", "_rebook_timed")),
    Metric("followed", "Rebookings followed up", "Recovery", "count",
           "Recovered cases with a `kept` or `not_kept` event.", "SUM(followed)"),
    Metric("kept", "Rebooked appointments kept", "Recovery", "count",
           "Cases whose last kept/not_kept event is `kept`.", "SUM(kept)"),
    Metric("kept_rate", "Kept rate", "Recovery", "rate", "kept / followed.", ratio=("kept", "followed")),
    Metric("unrecovered", "Unrecovered", "Recovery", "count",
           "Cases whose last `case_closed` outcome is `unrecovered`.", "SUM(unrecovered)"),
    Metric("open_cases", "Open cases", "Recovery", "count", "Cases without a `case_closed` event.",
           "SUM(open_case)"),
    # reviews and operations
    Metric("reviews", "Reviews requested", "Reviews", "count", "Count of `review_requested` events.",
           "SUM(reviews_requested)"),
    Metric("reviews_decided", "Reviews decided", "Reviews", "count",
           "Count of `review_decided` events (a lapsed review counts, outside its SLA).", "SUM(reviews_decided)"),
    Metric("reviews_within_sla", "Reviews decided within SLA", "Reviews", "count",
           "Count of `review_decided` events with data.within_sla = true.", "SUM(reviews_within_sla)"),
    Metric("sla_met_rate", "Review SLA met", "Reviews", "rate", "reviews_within_sla / reviews_decided.",
           ratio=("reviews_within_sla", "reviews_decided")),
    Metric("exceptions", "Exceptions", "Reviews", "count",
           "What reached a human: `review_requested` events (a review's first ask) plus `exception` events (owner "
           "alerts on cancellations and high-value misses).", "SUM(exceptions)"),
    # revenue
    Metric("lost_revenue_risk", "Lost revenue risk", "Revenue", "money",
           "Sum of value over cases whose kind (last recorded) and verdict are no_show or late_cancel, that are "
           "closed and have no `rebooked` event. Value: the case_closed event's, else the case_opened event's.",
           "SUM(lost_value)"),
    Metric("recovered_revenue", "Recovered revenue", "Revenue", "money",
           "Sum of value (the missed appointment's) over recovered cases.", "SUM(recovered_value)"),
    # waitlist backfill (SlotBackfill): a slot freed ahead of time, offered to waitlisted contacts
    Metric("backfills_opened", "Freed slots offered to the waitlist", "Waitlist backfill", "count",
           "Distinct backfill ids (`backfill-...`, one per freed slot, however often it is offered again) opened in "
           "the period (opening time: the first `backfill_opened` event, else the backfill's first event).",
           "SUM(backfill)"),
    Metric("waitlist_offers", "Waitlist offers sent", "Waitlist backfill", "count",
           "Count of `message_sent` events of backfills with template `waitlist_offer`.", "SUM(backfill_offers)"),
    Metric("slots_backfilled", "Slots backfilled", "Waitlist backfill", "count",
           "Backfills with a `backfilled` event (a waitlisted contact took the slot).", "SUM(backfilled)"),
    Metric("backfill_rate", "Backfill rate", "Waitlist backfill", "rate", "slots_backfilled / backfills_opened.",
           ratio=("slots_backfilled", "backfills_opened")),
    Metric("backfilled_revenue", "Backfilled revenue", "Waitlist backfill", "money",
           "Sum of value over backfilled slots: the freed slot's, from the first `backfill_opened` event.",
           "SUM(backfilled_value)"),
)
METRIC_BY_NAME = {m.name: m for m in METRICS}
# helper sums that are not shown, so that every SQL aggregate is additive and totals can be summed from groups
HELPERS: dict[str, str] = {
    "_rows": "COUNT(*)",  # cases and backfills: a period with backfills only is not empty
    "_rebook_minutes": "SUM(minutes_to_rebook)",
    "_rebook_timed": "COUNT(minutes_to_rebook)",
    "_recovered_recoverable": "SUM(recovered_recoverable)",  # experiments: recovered among recoverable
}
SQL_AGGREGATES: dict[str, str] = {**{m.name: m.sql for m in METRICS if m.sql}, **HELPERS}

# group-by names (CLI --by, page "by") and filter names (query params) -> case_facts columns
DIMENSIONS: dict[str, str] = {
    "week": "week", "source": "source", "appointment_type": "appointment_type", "owner_id": "owner_id",
    "location_id": "location_id", "channel": "channel", "template_id": "template_id", "segment": "segment",
    "arm": "arm", "program": "program",
}
BY_ALIASES = {"owner": "owner_id", "location": "location_id", "template": "template_id", "type": "appointment_type"}
FILTERS: dict[str, str] = {
    "source": "source", "appointment_type": "appointment_type", "owner": "owner_id", "location": "location_id",
    "channel": "channel", "template": "template_id", "segment": "segment", "arm": "arm", "program": "program",
}
# the programs a viewer may see (an owner scoped to some policy programs); None: every program, and the rows
# whose program is not known (written before the ledger had one, or appointments no program manages)
Programs = frozenset[str] | None
ATTRIBUTION_NOTE = (
    "Cases are reported in the week they opened. A case's channel and template are those of its first "
    "message (first touch); all its numbers, including later messages, count there. "
    f"{NONE_LABEL} groups cases without a value. Waitlist backfills count apart from cases, in the week their "
    "slot was freed and under the freed slot's source, type, owner and location."
)
_FILTER_VALUE = re.compile(r"^[\w .:/@+\-()]{1,200}$")
_RELATIVE = re.compile(r"^(\d{1,4})([dw])$")


class ReportError(ValueError):
    """A bad filter or grouping: shown to the user as is (422 on the page, a usage error in the CLI)."""


class Filters(BaseModel):
    since: datetime | None = None  # inclusive, UTC
    until: datetime | None = None  # exclusive, UTC
    source: str | None = None
    appointment_type: str | None = None
    owner: str | None = None
    location: str | None = None
    channel: str | None = None
    template: str | None = None
    segment: str | None = None
    arm: str | None = None
    program: str | None = None


def parse_when(value: str | None, name: str, *, end: bool, now: datetime | None = None) -> datetime | None:
    """A period bound: YYYY-MM-DD, an ISO date-time, or a relative '30d' / '4w' (before `now`).

    A bare date as `until` means the end of that day, so `--until 2025-03-31` includes March 31st.
    Naive times are UTC.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    rel = _RELATIVE.match(text)
    if rel:
        days = int(rel.group(1)) * (7 if rel.group(2) == "w" else 1)
        moment = (now or datetime.now(UTC)) - timedelta(days=days)
        return moment
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1) if end else day, time(), tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ReportError(f"{name}: {value!r} is not a date (YYYY-MM-DD), a date-time (ISO 8601) or a relative "
                          "period like 30d or 4w") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def make_filters(since: str | None = None, until: str | None = None, now: datetime | None = None,
                 **values: str | None) -> Filters:
    """Validate raw filter strings (from the page or the CLI) into `Filters`, or raise `ReportError`."""
    unknown = set(values) - set(FILTERS)
    if unknown:
        raise ReportError(f"unknown filter(s): {', '.join(sorted(unknown))}; use {', '.join(FILTERS)}")
    start = parse_when(since, "since", end=False, now=now)
    stop = parse_when(until, "until", end=True, now=now)
    if start and stop and start >= stop:
        raise ReportError("since must be before until")
    clean: dict[str, str | None] = {}
    for name, raw in values.items():
        value = raw.strip() if raw is not None else None
        if not value:
            clean[name] = None
            continue
        if not _FILTER_VALUE.match(value):
            raise ReportError(f"{name}: value must be 1-200 letters, digits, spaces or . : / @ + - ( )")
        if name == "channel" and value != NONE_LABEL and value not in {c.value for c in Channel}:
            raise ReportError(f"channel: {value!r} is not one of {', '.join(c.value for c in Channel)}")
        clean[name] = value
    return Filters(since=start, until=stop, **clean)


def resolve_by(by: str | None) -> str | None:
    if by is None or not by.strip():
        return None
    name = BY_ALIASES.get(by.strip(), by.strip())
    if name not in DIMENSIONS:
        raise ReportError(f"by: {by!r} is not a grouping; use one of {', '.join(DIMENSIONS)}")
    return name


def outside_scope(filters: Filters, programs: Programs) -> bool:
    """The filters ask for a program the viewer may not see (`(none)` included: unknown programs are every
    program's viewers' alone)."""
    return programs is not None and filters.program is not None and filters.program not in programs


def _where(filters: Filters, programs: Programs = None) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if programs is not None:
        clauses.append(f.c.program.in_(sorted(programs)))  # an empty scope matches nothing
    if filters.since is not None:
        clauses.append(f.c.opened_at >= filters.since)
    if filters.until is not None:
        clauses.append(f.c.opened_at < filters.until)
    for name, column in FILTERS.items():
        value = getattr(filters, name)
        if value is not None:
            clauses.append(f.c[column].is_(None) if value == NONE_LABEL else f.c[column] == value)
    return clauses


# ------------------------------------------------------------------ report models


class MetricDefinition(BaseModel):
    name: str
    label: str
    section: str
    unit: Unit
    formula: str


class Row(BaseModel):
    group: str
    values: dict[str, Value]


class Count(BaseModel):
    key: str
    count: int


class ArmResult(BaseModel):
    experiment: str
    arm: str
    holdout: bool
    cases: int = Field(description="recoverable cases in the arm")
    recovered: int
    recovery_rate: float | None
    lift: float | None = Field(description="recovery rate minus the holdout's")
    lift_low: float | None = Field(description="95 % interval, Newcombe hybrid score")
    lift_high: float | None


class Report(BaseModel):
    filters: Filters
    by: str | None
    total: Row
    groups: list[Row]
    weekly: list[Row]
    reply_reasons: list[Count]
    ignore_reasons: list[Count]
    experiments: list[ArmResult]
    definitions: list[MetricDefinition]
    note: str = ATTRIBUTION_NOTE


def definitions() -> list[MetricDefinition]:
    return [MetricDefinition(name=m.name, label=m.label, section=m.section, unit=m.unit, formula=m.formula)
            for m in METRICS]


def _round(metric: Metric, value: Any) -> Value:
    if value is None:
        return None
    if metric.unit == "count":
        return int(value)
    digits = {"rate": 4, "money": 2, "minutes": 1}[metric.unit]
    return round(float(value), digits)


def _finish(raw: Mapping[str, Any]) -> dict[str, Value]:
    values: dict[str, Value] = {name: raw.get(name) or 0 for name in SQL_AGGREGATES}
    for metric in METRICS:
        if metric.ratio is None:
            values[metric.name] = _round(metric, values[metric.name])
    for metric in METRICS:
        if metric.ratio is not None:
            num, den = (values[n] or 0 for n in metric.ratio)
            values[metric.name] = _round(metric, num / den) if den else None
    return {m.name: values[m.name] for m in METRICS}


Raw = dict[str, Any]


def _aggregate(conn: Any, filters: Filters, keys: list[str],
               programs: Programs = None) -> list[tuple[tuple[str | None, ...], Raw]]:
    """Raw additive sums per combination of `keys` (DIMENSIONS names): one pass over case_facts."""
    columns: list[Any] = [literal_column(sql).label(name) for name, sql in SQL_AGGREGATES.items()]
    where = and_(true(), *_where(filters, programs))
    key_cols: list[Any] = [f.c[DIMENSIONS[k]] for k in keys]
    if conn.dialect.name == "sqlite":
        # `+column` stops SQLite from walking a (dimension, opened_at) index to avoid the sort: with ~30 sums
        # per row, a table scan plus a sort is about 1.5x faster than an index walk with a row lookup each
        key_cols = [literal_column(f"+{DIMENSIONS[k]}") for k in keys]
    stmt = select(*[c.label(f"k{i}") for i, c in enumerate(key_cols)], *columns).select_from(f).where(where)
    if key_cols:
        stmt = stmt.group_by(*key_cols)
    out = []
    for r in conn.execute(stmt).mappings():
        if not key_cols and not r["_rows"]:
            continue
        out.append((tuple(r[f"k{i}"] for i in range(len(keys))), dict(r)))
    return out


def _roll_up(rows: list[tuple[tuple[str | None, ...], Raw]], index: int | None) -> list[tuple[str, Raw]]:
    """Sum the rows per value of key `index` (None: one total), sorted by that value, (none) first."""
    sums: dict[str | None, Raw] = {}
    for keys, raw in rows:
        key = keys[index] if index is not None else "total"
        acc = sums.setdefault(key, dict.fromkeys(SQL_AGGREGATES, 0))
        for name in SQL_AGGREGATES:
            acc[name] += raw.get(name) or 0
    ordered = sorted(sums.items(), key=lambda kv: (kv[0] is not None, kv[0] or ""))
    return [(NONE_LABEL if k is None else str(k), v) for k, v in ordered]


def _reply_reasons(conn: Any, filters: Filters, programs: Programs = None) -> list[Count]:
    stmt = (
        select(e.c.reason, func.count().label("n"))
        .select_from(e.join(f, f.c.case_id == e.c.case_id))
        .where(and_(e.c.type == "reply_received", f.c.backfill == 0, *_where(filters, programs)))
        .group_by(e.c.reason)
    )
    counts = [Count(key=r.reason or NONE_LABEL, count=int(r.n)) for r in conn.execute(stmt)]
    return sorted(counts, key=lambda c: (-c.count, c.key))


def _ignore_reasons(conn: Any, filters: Filters, programs: Programs = None) -> list[Count]:
    stmt = (select(f.c.ignore_reason, func.count().label("n"))
            .where(and_(f.c.ignored == 1, *_where(filters, programs))).group_by(f.c.ignore_reason))
    counts = [Count(key=r.ignore_reason or NONE_LABEL, count=int(r.n)) for r in conn.execute(stmt)]
    return sorted(counts, key=lambda c: (-c.count, c.key))


def _experiments(arms: list[tuple[str, Raw]]) -> list[ArmResult]:
    by_experiment: dict[str, dict[str, tuple[int, int]]] = {}
    for value, raw in arms:
        if value == NONE_LABEL:
            continue
        experiment, arm = split_arm(value)
        by_experiment.setdefault(experiment, {})[arm] = (int(raw["_recovered_recoverable"]), int(raw["recoverable"]))
    results: list[ArmResult] = []
    for experiment in sorted(by_experiment):
        arms_of = by_experiment[experiment]
        holdout = arms_of.get(HOLDOUT)
        for arm in sorted(arms_of, key=lambda a: (a != HOLDOUT, a)):
            x, n = arms_of[arm]
            lift = low = high = None
            if arm != HOLDOUT and holdout is not None and n > 0 and holdout[1] > 0:
                interval = lift_interval(x, n, holdout[0], holdout[1])
                lift, low, high = (round(v, 4) for v in (interval.estimate, interval.low, interval.high))
            results.append(ArmResult(
                experiment=experiment, arm=arm, holdout=arm == HOLDOUT, cases=n, recovered=x,
                recovery_rate=round(x / n, 4) if n else None, lift=lift, lift_low=low, lift_high=high,
            ))
    return results


def build_report(ledger: Ledger, filters: Filters | None = None, by: str | None = None,
                 *, weekly: bool = True, extras: bool = True, programs: Programs = None) -> Report:
    """All the numbers for one filter set, grouped by `by` (a DIMENSIONS name) or not at all, over the cases of
    `programs` only (None: every program).

    One pass over case_facts grouped by (by, week, arm) gives the groups, the weekly series, the total and
    the experiment arms, since every aggregate is a sum; the reason counts run beside it on their own
    connections (SQLite readers do not block each other in WAL mode).
    """
    filters = filters or Filters()
    by = resolve_by(by)
    keys = list(dict.fromkeys(k for k in (by, "week" if weekly else None, "arm" if extras else None) if k))

    def run(job: Callable[[Any], Any]) -> Callable[[], Any]:
        def call() -> Any:
            with ledger.engine.connect() as conn:
                return job(conn)
        return call

    jobs: dict[str, Callable[[], Any]] = {"main": run(lambda c: _aggregate(c, filters, keys, programs))}
    if extras:
        jobs["reply_reasons"] = run(lambda c: _reply_reasons(c, filters, programs))
        jobs["ignore_reasons"] = run(lambda c: _ignore_reasons(c, filters, programs))
    if len(jobs) == 1:
        results = {"main": jobs["main"]()}
    else:
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            futures = {name: pool.submit(job) for name, job in jobs.items()}
            results = {name: future.result() for name, future in futures.items()}
    rows = results["main"]
    total = _roll_up(rows, None)
    total_raw = total[0][1] if total else dict.fromkeys(SQL_AGGREGATES, 0)
    return Report(
        filters=filters, by=by, total=Row(group="total", values=_finish(total_raw)),
        groups=[Row(group=g, values=_finish(raw)) for g, raw in _roll_up(rows, keys.index(by))] if by else [],
        weekly=[Row(group=g, values=_finish(raw)) for g, raw in _roll_up(rows, keys.index("week"))]
        if weekly else [],
        reply_reasons=results.get("reply_reasons", []),
        ignore_reasons=results.get("ignore_reasons", []),
        experiments=_experiments(_roll_up(rows, keys.index("arm"))) if extras else [],
        definitions=definitions(),
    )


def filter_options(ledger: Ledger, limit: int = 200, programs: Programs = None) -> dict[str, list[str]]:
    """Known values per filter, for the page's suggestion lists: only those of the cases of `programs`."""
    options: dict[str, list[str]] = {}
    with ledger.engine.connect() as conn:
        for name, column in FILTERS.items():
            col = f.c[column]
            stmt = (select(col).where(col.is_not(None), *_where(Filters(), programs)).distinct().order_by(col)
                    .limit(limit))
            options[name] = [str(v) for v in conn.execute(stmt).scalars()]
    return options


def format_value(value: Value) -> str:
    """The one text form of a number, shared by the CSV and the CLI (blank when a rate has no denominator)."""
    if value is None:
        return ""
    return str(value)


def _cell(text: str) -> str:
    # a label a spreadsheet would run as a formula is quoted; numbers never start with these characters
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(report: Report) -> str:
    """One row per group (or a single `total` row), one column per metric, in METRICS order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["by", "group", *(m.name for m in METRICS)])
    rows = report.groups if report.by else [report.total]
    for row in rows:
        writer.writerow([report.by or "", _cell(row.group), *(format_value(row.values[m.name]) for m in METRICS)])
    if report.by:
        writer.writerow([report.by, "total", *(format_value(report.total.values[m.name]) for m in METRICS)])
    return out.getvalue()
