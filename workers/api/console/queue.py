"""The review queue: pending reviews soonest due first, each with what a reviewer needs to decide (appointment,
value, evidence, the contact's history, the message an approval sends, the SLA and what happens when it lapses),
and approve / edit (with live lint) / reject / reassign. The list refreshes itself (htmx polling)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from connectors.local.staff_inbox import StaffInbox
from domain.models import Channel
from policies import messages as message_policy
from policies.schema import Segment
from workers.api.console.data import review_items
from workers.api.console.forms import read_form
from workers.api.console.views import page
from workers.api.deps import Caller, State
from workers.api.models import DecisionBody
from workers.api.routes.reviews import submit_decision

router = APIRouter(prefix="/console", include_in_schema=False)
SEGMENTS = [s.value for s in Segment]


@router.get("")
async def console_home(_: Caller) -> Response:
    return RedirectResponse("/console/reviews", status_code=303)


@router.get("/reviews", response_class=HTMLResponse)
async def queue_page(request: Request, st: State, who: Caller) -> HTMLResponse:
    items = await review_items(st.cases.client, st.deps, who.may_review)
    return page(request, "queue.html", who, items=items, segments=SEGMENTS)


@router.get("/reviews/items", response_class=HTMLResponse)
async def queue_items(request: Request, st: State, who: Caller) -> HTMLResponse:
    items = await review_items(st.cases.client, st.deps, who.may_review)
    return page(request, "_items.html", who, items=items, segments=SEGMENTS)


@router.post("/reviews/{case_id}/decision", response_class=HTMLResponse)
async def decide(case_id: str, request: Request, st: State, who: Caller) -> Response:
    form = await read_form(request)
    action = form.get("decision", "")
    fields: dict[str, object] = {"review_id": form.get("review_id", ""), "decision": action,
                                 "note": form.get("note") or None}
    if action == "edit":
        if form.get("segment") and form["segment"] not in SEGMENTS:
            raise HTTPException(422, f"segment must be one of {', '.join(SEGMENTS)}")
        fields["segment"] = form.get("segment") or None
        fields["mark_attended"] = form.get("mark_attended") == "on"
    try:
        body = DecisionBody.model_validate(fields)
    except ValidationError:
        raise HTTPException(422, "the decision form is incomplete or has an unknown value") from None
    try:
        result = await submit_decision(st, who, case_id, body)
    except HTTPException as exc:
        return page(request, "_decided.html", who, status_code=exc.status_code, case_id=case_id, error=exc.detail)
    if request.headers.get("hx-request"):
        return page(request, "_decided.html", who, case_id=case_id, result=result)
    return RedirectResponse(f"/console/cases/{case_id}", status_code=303)


@router.post("/reviews/{case_id}/assign", response_class=HTMLResponse)
async def reassign(case_id: str, request: Request, st: State, who: Caller) -> Response:
    form = await read_form(request)
    review_id, assignee = form.get("review_id", ""), form.get("assignee", "").strip()
    pending = {str(r["review_id"]): r for r in st.deps.reviews.pending()}
    row = pending.get(review_id)
    if row is None or str(row["case_id"]) != case_id or not who.may_review(str(row["program"])):
        raise HTTPException(404, "no such pending review")
    if not assignee or len(assignee) > 254:
        raise HTTPException(422, "name the reviewer to assign (up to 254 characters)")
    StaffInbox(st.deps.db).assign(review_id, assignee, who.identity)
    st.deps.reviews.audit(who.identity, "review.reassign", case_id, {"review_id": review_id, "to": assignee})
    if request.headers.get("hx-request"):
        return HTMLResponse("<span role=\"status\">assigned</span>")
    return RedirectResponse("/console/reviews", status_code=303)


@router.post("/lint", response_class=HTMLResponse)
async def live_lint(request: Request, st: State, who: Caller) -> HTMLResponse:
    """The messaging linter on a proposed wording, as the reviewer types."""
    form = await read_form(request)
    text = form.get("note", "")[:1000]
    try:
        channel = Channel(form.get("channel") or "sms")
    except ValueError:
        channel = Channel.sms
    result = message_policy.lint(text, channel) if text.strip() else None
    return page(request, "_lint.html", who, result=result)
