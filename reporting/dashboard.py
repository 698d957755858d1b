"""The owner's page: `/dashboard` (server-rendered HTML, inline CSS and SVG, no external requests),
`/dashboard/data.json` and `/dashboard/export.csv`, all from `metrics.build_report` with the same filters.

A viewer scoped to some programs sees only their cases, in the figures and in the filter suggestions; asking
for another program (`?program=B`, or `(none)`) answers 404, as a case of another program does.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from html import escape
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from reporting.ledger import Ledger
from reporting.metrics import (
    DIMENSIONS,
    FILTERS,
    METRIC_BY_NAME,
    METRICS,
    NONE_LABEL,
    Count,
    Filters,
    Programs,
    Report,
    ReportError,
    Row,
    Value,
    build_report,
    filter_options,
    format_value,
    make_filters,
    outside_scope,
    resolve_by,
    to_csv,
)

KPIS = ("verdict_no_show", "recovered", "recovery_rate", "recovered_revenue", "lost_revenue_risk", "reply_rate",
        "messages_sent", "opt_outs")
GROUP_COLUMNS = ("cases", "verdict_no_show", "contacted", "reply_rate", "recovered", "recovery_rate",
                 "lost_revenue_risk", "recovered_revenue")
Param = Annotated[str | None, Query(max_length=200)]


class Query_(BaseModel):
    filters: Filters
    by: str | None
    raw: dict[str, str]  # the non-empty query params, to rebuild links


def _query(
    since: Annotated[str | None, Query(max_length=40, description="YYYY-MM-DD, ISO date-time or 30d / 4w")] = None,
    until: Annotated[str | None, Query(max_length=40, description="exclusive; a bare date includes that day")] = None,
    by: Annotated[str | None, Query(max_length=40, description=f"one of {', '.join(DIMENSIONS)}")] = None,
    source: Param = None, appointment_type: Param = None, owner: Param = None, location: Param = None,
    channel: Param = None, template: Param = None, segment: Param = None, arm: Param = None,
    program: Param = None,
) -> Query_:
    values: dict[str, Any] = {"source": source, "appointment_type": appointment_type, "owner": owner,
                              "location": location, "channel": channel, "template": template, "segment": segment,
                              "arm": arm, "program": program}
    try:
        filters = make_filters(since=since, until=until, **values)
        group = resolve_by(by)
    except ReportError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    raw = {k: v for k, v in {"since": since, "until": until, "by": by, **values}.items() if v}
    return Query_(filters=filters, by=group, raw=raw)


class Scoped(BaseModel):
    query: Query_
    programs: Programs  # what the viewer may see; None: every program


def every_program() -> Programs:
    return None


def dashboard_router(get_ledger: Callable[[], Ledger], dependencies: Sequence[Any] = (),
                     programs: Callable[..., Programs] = every_program) -> APIRouter:
    """Dashboard routes, mounted by the API app: `app.include_router(dashboard_router(lambda: ledger, [auth],
    scope))`; `dependencies` (the app's sign-in and role check) guard every route, and `programs`, a dependency
    too, says which programs the caller may see (None: every program)."""
    router = APIRouter(tags=["dashboard"], dependencies=list(dependencies))

    # a default, not Annotated: the dependency is this call's argument, which a string annotation cannot name
    def scoped(q: Annotated[Query_, Depends(_query)], allowed: Programs = Depends(programs)) -> Scoped:
        if outside_scope(q.filters, allowed):
            raise HTTPException(status_code=404, detail="no such program")
        return Scoped(query=q, programs=allowed)

    def report_for(s: Scoped, by: str | None) -> Report:
        return build_report(get_ledger(), s.query.filters, by, programs=s.programs)

    # sync handlers: FastAPI runs them in its thread pool, so SQL never blocks the event loop
    @router.get("/dashboard/data.json", response_model=Report)
    def dashboard_data(s: Scoped = Depends(scoped)) -> Report:
        return report_for(s, s.query.by)

    @router.get("/dashboard/export.csv", response_class=Response)
    def dashboard_csv(s: Scoped = Depends(scoped)) -> Response:
        by = s.query.by
        name = f"noshow-report{'-by-' + by if by else ''}.csv"
        return Response(to_csv(report_for(s, by)), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @router.get("/dashboard", response_class=HTMLResponse)
    def dashboard_page(s: Scoped = Depends(scoped)) -> HTMLResponse:
        report = report_for(s, s.query.by or "week")
        options = filter_options(get_ledger(), programs=s.programs)
        # `(none)` as a program is the every-program viewer's alone: a scoped one would get a 404 for it
        without_none = () if s.programs is None else ("program",)
        return HTMLResponse(render_page(report, s.query.raw, options, without_none))

    return router


# ------------------------------------------------------------------ rendering


def display(name: str, value: Value) -> str:
    if value is None:
        return "n/a"
    unit = METRIC_BY_NAME[name].unit
    if unit == "rate":
        return f"{value * 100:.1f}%"
    if unit == "money":
        return f"{value:,.2f}"
    if unit == "minutes":
        return f"{value:,.1f}"
    return f"{int(value):,}"


def _cell(name: str, row: Row, tag: str = "td") -> str:
    value = row.values[name]
    return (f'<{tag} class="num" data-metric="{name}" data-group="{escape(row.group)}" '
            f'data-value="{escape(format_value(value))}">{display(name, value)}</{tag}>')


def _bars(rows: Sequence[Row], series: Sequence[tuple[str, str]], title: str) -> str:
    """A grouped bar chart per week as inline SVG (no script, scales with the page)."""
    if not rows:
        return '<p class="muted">No cases in this period.</p>'
    rows = rows[-26:]  # half a year keeps the bars readable on a phone
    width, height, pad = 640, 220, 28
    top = max(max(float(r.values[m] or 0) for m, _ in series for r in rows), 1.0)
    slot = (width - pad) / len(rows)
    bar = max(slot / (len(series) + 1), 1.0)
    parts = [f'<svg viewBox="0 0 {width} {height + 34}" role="img" aria-label="{escape(title)}">',
             f'<line x1="{pad}" y1="{height}" x2="{width}" y2="{height}" class="axis"/>',
             f'<text x="0" y="12" class="tick">{escape(display(series[0][0], top))}</text>']
    for i, row in enumerate(rows):
        x0 = pad + i * slot
        for j, (metric, colour) in enumerate(series):
            v = float(row.values[metric] or 0)
            h = (height - 16) * v / top
            parts.append(f'<rect x="{x0 + j * bar:.1f}" y="{height - h:.1f}" width="{bar * 0.9:.1f}" '
                         f'height="{h:.1f}" fill="{colour}"><title>{escape(row.group)} '
                         f'{escape(METRIC_BY_NAME[metric].label)}: {escape(display(metric, row.values[metric]))}'
                         '</title></rect>')
        if len(rows) <= 8 or i % max(len(rows) // 6, 1) == 0:
            parts.append(f'<text x="{x0:.1f}" y="{height + 14}" class="tick">{escape(row.group[5:])}</text>')
    legend_x = pad
    for metric, colour in series:
        label = METRIC_BY_NAME[metric].label
        parts.append(f'<rect x="{legend_x}" y="{height + 22}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{legend_x + 14}" y="{height + 31}" class="tick">{escape(label)}</text>')
        legend_x += 24 + 7 * len(label)
    parts.append("</svg>")
    return "".join(parts)


def _hbars(counts: Sequence[Count], label: str) -> str:
    if not counts:
        return '<p class="muted">None in this period.</p>'
    top = max(c.count for c in counts) or 1
    rows = "".join(
        f'<div class="hbar"><span>{escape(c.key)}</span><span class="track"><span class="fill" '
        f'style="width:{100 * c.count / top:.1f}%"></span></span>'
        f'<span class="num" data-reason="{escape(c.key)}" data-value="{c.count}">{c.count:,}</span></div>'
        for c in counts
    )
    return f'<div aria-label="{escape(label)}">{rows}</div>'


CSS = """
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;
color:#1c2430;background:#f4f6f9}header{background:#17324d;color:#fff;padding:14px 16px}
header h1{margin:0;font-size:19px}header p{margin:2px 0 0;font-size:13px;opacity:.85}
main{max-width:1100px;margin:0 auto;padding:12px}section{background:#fff;border-radius:10px;padding:12px 14px;
margin:0 0 12px;box-shadow:0 1px 2px rgba(0,0,0,.06)}h2{font-size:16px;margin:0 0 8px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:8px;margin-bottom:12px}
.kpi{background:#fff;border-radius:10px;padding:10px 12px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
.kpi .num{display:block;font-size:22px;font-weight:650}.kpi small{color:#5a6573}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:14px}
th,td{padding:6px 8px;border-bottom:1px solid #e6e9ee;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.muted,.def{color:#5a6573;font-size:13px}svg{width:100%;height:auto}.axis{stroke:#9aa5b1}
.tick{font-size:11px;fill:#5a6573}form{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));
gap:8px}label{font-size:12px;color:#5a6573;display:flex;flex-direction:column}
input,select{font:inherit;padding:6px;border:1px solid #c5ccd6;border-radius:6px;background:#fff}
button,.btn{font:inherit;padding:7px 12px;border-radius:6px;border:0;background:#17324d;color:#fff;
text-decoration:none;display:inline-block}.links{display:flex;gap:8px;flex-wrap:wrap;margin-top:8px}
.hbar{display:grid;grid-template-columns:minmax(90px,30%) 1fr 56px;gap:8px;align-items:center;margin:3px 0}
.track{background:#e9edf2;border-radius:4px;height:12px;display:block}.fill{display:block;height:12px;
border-radius:4px;background:#3f7cc0}summary{cursor:pointer;font-weight:600}
"""


def render_page(report: Report, raw: dict[str, str], options: dict[str, list[str]],
                without_none: Collection[str] = ()) -> str:
    by = report.by or "week"
    total = report.total
    kpis = "".join(
        f'<div class="kpi"><small>{escape(METRIC_BY_NAME[m].label)}</small>{_cell(m, total, "span")}</div>'
        for m in KPIS
    )
    weekly = _bars(report.weekly, (("recoverable", "#c9d6e6"), ("recovered", "#2e8b57")), "Recovered by week")
    money = _bars(report.weekly, (("lost_revenue_risk", "#d9534f"), ("recovered_revenue", "#2e8b57")),
                  "Revenue by week")
    head = "".join(f'<th class="num">{escape(METRIC_BY_NAME[m].label)}</th>' for m in GROUP_COLUMNS)
    body = "".join(
        f"<tr><th>{escape(row.group)}</th>{''.join(_cell(m, row) for m in GROUP_COLUMNS)}</tr>"
        for row in [*report.groups, Row(group="total", values=total.values)]
    )
    experiments = "".join(
        f"<tr><td>{escape(a.experiment or '(none)')}</td><td>{escape(a.arm)}</td>"
        f'<td class="num" data-arm="{escape(a.arm)}" data-value="{a.cases}">{a.cases:,}</td>'
        f'<td class="num">{a.recovered:,}</td><td class="num">{display("recovery_rate", a.recovery_rate)}</td>'
        f'<td class="num">{"holdout" if a.holdout else display("recovery_rate", a.lift)}</td>'
        f'<td class="num">{"" if a.lift_low is None else display("recovery_rate", a.lift_low) + " to "}'
        f'{"" if a.lift_high is None else display("recovery_rate", a.lift_high)}</td></tr>'
        for a in report.experiments
    ) or '<tr><td colspan="7" class="muted">No cases assigned to an experiment arm.</td></tr>'
    all_metrics = "".join(
        f"<tr><td>{escape(m.section)}</td><td>{escape(m.label)}<div class=\"def\">{escape(m.formula)}</div></td>"
        f"{_cell(m.name, total)}</tr>"
        for m in METRICS
    )
    inputs = [
        f'<label>Since<input type="text" name="since" value="{escape(raw.get("since", ""))}" '
        'placeholder="YYYY-MM-DD or 30d"></label>',
        f'<label>Until<input type="text" name="until" value="{escape(raw.get("until", ""))}" '
        'placeholder="YYYY-MM-DD"></label>',
        '<label>Group by<select name="by">' + "".join(
            f'<option value="{d}"{" selected" if d == by else ""}>{d}</option>' for d in DIMENSIONS
        ) + "</select></label>",
    ]
    lists = []
    for name in FILTERS:
        inputs.append(f'<label>{escape(name.replace("_", " "))}<input type="text" name="{name}" '
                      f'value="{escape(raw.get(name, ""))}" list="opt-{name}"></label>')
        lists.append(f'<datalist id="opt-{name}">' + "".join(
            f'<option value="{escape(v)}">'
            for v in [*options.get(name, []), *([] if name in without_none else [NONE_LABEL])]) + "</datalist>")
    active = sum(1 for k in raw if k != "by")
    query = urlencode(raw)
    suffix = f"?{query}" if query else ""
    period = " to ".join(x for x in (raw.get("since"), raw.get("until")) if x) or "all time"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>No-show recovery report</title><style>{CSS}</style></head>
<body><header><h1>No-show recovery</h1><p>{escape(period)} · {total.values["cases"]:,} cases</p></header>
<main>
<section><details{" open" if active else ""}><summary>Filters ({active} active)</summary>
<form method="get" action="">{"".join(inputs)}<div><button type="submit">Apply</button></div></form>
{"".join(lists)}</details>
<div class="links"><a class="btn" href="dashboard/export.csv{escape(suffix)}">CSV</a>
<a class="btn" href="dashboard/data.json{escape(suffix)}">JSON</a></div></section>
<div class="kpis">{kpis}</div>
<section><h2>Recovered by week</h2>{weekly}</section>
<section><h2>Revenue by week</h2>{money}</section>
<section><h2>By {escape(by)}</h2><div class="scroll"><table id="groups"><thead><tr><th>{escape(by)}</th>{head}
</tr></thead><tbody>{body}</tbody></table></div><p class="muted">{escape(report.note)}</p></section>
<section><h2>Reply reasons</h2>{_hbars(report.reply_reasons, "Reply reasons")}</section>
<section><h2>Ignored appointments</h2>{_hbars(report.ignore_reasons, "Ignore reasons")}</section>
<section><h2>Experiments</h2><div class="scroll"><table id="experiments"><thead><tr><th>Experiment</th><th>Arm</th>
<th class="num">Cases</th><th class="num">Recovered</th><th class="num">Rate</th><th class="num">Lift</th>
<th class="num">95 % CI</th></tr></thead><tbody>{experiments}</tbody></table></div>
<p class="muted">Cases: recoverable cases in the arm. Lift: the arm's recovery rate minus the holdout's, with a 95 %
Newcombe hybrid score interval.</p></section>
<section><h2>Every number, and how it is counted</h2><div class="scroll"><table id="metrics"><tbody>{all_metrics}
</tbody></table></div></section>
</main></body></html>"""
