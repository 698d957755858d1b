"""The staff inbox: replies nobody could route (unknown senders, closed cases, waitlist answers), the tasks the
engine opened for a person (overdue reviews, escalations), failed sends and lapsed reviews, each resolvable."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workers.api.console.exceptions import inbox_items, resolve_item
from workers.api.console.forms import read_form
from workers.api.console.views import page
from workers.api.deps import Caller, State

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/inbox", response_class=HTMLResponse)
async def inbox_page(request: Request, st: State, who: Caller, resolved: bool = False) -> HTMLResponse:
    items = inbox_items(st.deps, include_resolved=resolved)
    return page(request, "inbox.html", who, items=items, resolved=resolved)


@router.post("/inbox/resolve", response_class=HTMLResponse)
async def resolve(request: Request, st: State, who: Caller) -> Response:
    form = await read_form(request)
    item_id = form.get("item_id", "")
    if not resolve_item(st.deps, item_id, who.identity, (form.get("note") or "")[:1000] or None):
        raise HTTPException(404, "no such open item")
    st.deps.reviews.audit(who.identity, "inbox.resolve", None, {"item": item_id})
    if request.headers.get("hx-request"):
        return HTMLResponse('<span role="status">resolved</span>')
    return RedirectResponse("/console/inbox", status_code=303)
