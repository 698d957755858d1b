"""One case's page: the timeline (events, messages with their delivery status, replies, stage changes, CRM
writes, decisions and who made them), the next action and when, and where to find it in the Temporal UI."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from domain.ids import is_case_id
from workers.api.console.data import case_view
from workers.api.console.views import page
from workers.api.deps import Caller, State

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(case_id: str, request: Request, st: State, who: Caller) -> HTMLResponse:
    if not is_case_id(case_id):
        raise HTTPException(404, "no such case")
    view = await case_view(st.cases.client, st.deps, case_id, full=True)
    if view is None:
        raise HTTPException(404, "no such case")
    if not who.may_review(view.state.program):
        raise HTTPException(403, "this case belongs to a program you do not review")
    s = st.settings.temporal
    ui = f"http://127.0.0.1:{s.ui_port}" if s.embedded else None
    temporal_link = f"{ui}/namespaces/{s.namespace}/workflows/{case_id}" if ui else None
    timeline = sorted(
        [{"at": t.at.isoformat(timespec="seconds")[:19], "kind": "case", "what": t.what} for t in view.state.timeline]
        + [{"at": str(e["at"])[:19], "kind": "ledger", "what": _ledger_words(e)} for e in view.events]
        + [{"at": str(d["at"])[:19], "kind": "decision", "what": f"{d['action']} by {d['actor']}"}
           for d in view.decisions],
        key=lambda row: row["at"],
    )
    return page(request, "case.html", who, view=view, timeline=timeline, temporal_link=temporal_link,
                namespace=s.namespace)


def _ledger_words(event: dict[str, object]) -> str:
    parts = [str(event["type"]).replace("_", " ")]
    for key in ("channel", "template_id", "outcome", "reason"):
        if event.get(key):
            parts.append(f"{key.replace('_id', '')}: {event[key]}")
    data = event.get("data")
    if event["type"] == "crm_updated" and isinstance(data, dict):
        parts.append(f"fields written: {data.get('written') or 'none'}")
        if data.get("refused"):
            parts.append(f"refused (protected): {data['refused']}")
    elif event["type"] == "review_decided" and isinstance(data, dict) and data.get("decision"):
        parts.append(f"decision: {data['decision']}{'' if data.get('within_sla', True) else ' (after the SLA)'}")
    return "; ".join(parts)
