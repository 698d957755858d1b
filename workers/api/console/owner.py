"""For owners: the headline numbers (the full dashboard is one click away), exceptions that need a person and
alerts about the engine itself."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from reporting.metrics import METRICS, build_report, format_value
from workers.api.console.data import review_items
from workers.api.console.exceptions import inbox_items
from workers.api.console.views import page
from workers.api.deps import Caller, State

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/owner", response_class=HTMLResponse)
async def owner_page(request: Request, st: State, who: Caller) -> HTMLResponse:
    report = build_report(st.deps.ledger, None, None, weekly=False, extras=False)
    numbers = [(m.name, format_value(report.total.values[m.name])) for m in METRICS][:8]
    now = datetime.now(UTC)
    reviews = await review_items(st.cases.client, st.deps, who.may_review)
    overdue = [v for v in reviews if v.due_at and v.due_at < now]
    open_items = inbox_items(st.deps)
    alerts = [f"webhook event type {u.provider}/{u.type} is not handled ({u.count} received)"
              for u in st.intake.unknown_types.all()]
    alerts += [f"connector {c.name}: {c.detail}" for c in st.connector_checks if c.status == "error"]
    if st.client is None:
        alerts.append("Temporal is not reachable")
    return page(request, "owner.html", who, numbers=numbers, overdue=overdue, pending=len(reviews),
                open_items=open_items, alerts=alerts)
