"""`noshow report`: the dashboard's numbers in a terminal table or as CSV.

The CLI registers it with typer: `app.command("report")(make_report_command(get_ledger))`, or the plain
`report` below, which opens the ledger at $NOSHOW_LEDGER_URL (default sqlite:///data/ledger.db).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from reporting.ledger import Ledger
from reporting.metrics import (
    DIMENSIONS,
    METRICS,
    Report,
    ReportError,
    build_report,
    format_value,
    make_filters,
    resolve_by,
    to_csv,
)

Since = Annotated[str | None, typer.Option("--since", help="YYYY-MM-DD, ISO date-time, or 30d / 4w ago")]
Until = Annotated[str | None, typer.Option("--until", help="exclusive; a bare date includes that whole day")]
By = Annotated[str | None, typer.Option("--by", help=f"group by: {', '.join(DIMENSIONS)}")]
Csv = Annotated[bool, typer.Option("--csv", help="print CSV (the same as the dashboard's export)")]
Json = Annotated[bool, typer.Option("--json", help="print JSON")]
Program = Annotated[str | None, typer.Option("--program", help="only this policy program's cases ('(none)': "
                                                                 "those of no known program)")]



def render_table(report: Report, width: int = 100) -> str:
    """Metrics down, groups across (then the total), values in the same text form as the CSV. Groups that do not
    fit in `width` columns go on to further blocks, each repeating the metric names."""
    rows = report.groups if report.by else []
    names = [m.name for m in METRICS]
    columns = [(r.group, [format_value(r.values[m.name]) for m in METRICS]) for r in rows]
    columns.append(("total", [format_value(report.total.values[m.name]) for m in METRICS]))
    first = max(len(x) for x in ["metric", *names])
    blocks: list[list[tuple[str, list[str]]]] = [[]]
    used = first
    for header, cells in columns:
        w = max(len(str(c)) for c in [header, *cells]) + 2
        if blocks[-1] and used + w > width:
            blocks.append([])
            used = first
        blocks[-1].append((header, cells))
        used += w

    def block_lines(block: list[tuple[str, list[str]]]) -> list[str]:
        widths = [first, *(max(len(str(c)) for c in [h, *cells]) for h, cells in block)]

        def line(cells: list[str]) -> str:
            return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                                 strict=True)))

        out = [line(["metric", *(h for h, _ in block)]), line(["-" * w for w in widths])]
        out += [line([name, *(cells[i] for _, cells in block)]) for i, name in enumerate(names)]
        return out

    title = f"by {report.by}" if report.by else "totals"
    period = " to ".join(x.isoformat() for x in (report.filters.since, report.filters.until) if x) or "all time"
    out = [f"noshow report ({title}; cases opened {period})"]
    for i, block in enumerate(blocks):
        if i:
            out.append("")
        out += block_lines(block)
    if report.reply_reasons:
        out.append("reply reasons: " + ", ".join(f"{c.key}={c.count}" for c in report.reply_reasons))
    for arm in report.experiments:
        lift = "" if arm.lift is None else f" lift={arm.lift} [{arm.lift_low}, {arm.lift_high}]"
        out.append(f"experiment {arm.experiment or '(none)'} arm {arm.arm}: cases={arm.cases} "
                   f"recovered={arm.recovered} rate={format_value(arm.recovery_rate)}{lift}")
    return "\n".join(out)


def make_report_command(get_ledger: Callable[[], Ledger]) -> Callable[..., None]:
    """A typer-compatible `report` command bound to the given ledger factory."""

    def report(since: Since = None, until: Until = None, by: By = None, program: Program = None,
               csv: Csv = False, as_json: Json = False) -> None:
        """Recovery numbers for a period, optionally grouped, the same as the dashboard shows to a viewer of
        every program (whoever can open the ledger reads all of it)."""
        try:
            filters = make_filters(since=since, until=until, program=program)
            group = resolve_by(by)
        except ReportError as exc:
            raise typer.BadParameter(str(exc)) from None
        result = build_report(get_ledger(), filters, group, weekly=False, extras=not csv)
        if as_json:
            typer.echo(result.model_dump_json(indent=2))
            return
        typer.echo(to_csv(result) if csv else render_table(result), nl=not csv)

    return report

