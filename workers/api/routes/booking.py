"""The self-serve booking page a signed, expiring link in an offer opens: the offered slots, one tap to book."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException
from fastapi.responses import HTMLResponse
from temporalio.service import RPCError

from connectors.settings import secret
from domain.case import CaseState, SlotChoice
from domain.links import LinkError, verify_link
from workers.api.deps import AppState, State
from workflows.case import RecoveryCaseWorkflow

router = APIRouter(tags=["self-serve"])


@router.get("/book/{token}", response_class=HTMLResponse, summary="The self-serve page listing the offered slots")
async def booking_page(token: str, st: State) -> HTMLResponse:
    _, _, current = await _offer_for(st, token)
    rows = "".join(
        f'<li><form method="post"><input type="hidden" name="slot_index" value="{i}">'
        f'<button type="submit">{html.escape(s.start.strftime("%a %b %d, %H:%M %Z"))}</button></form></li>'
        for i, s in enumerate(current.offered)
    )
    page = (
        "<!doctype html><html><head><meta name=viewport content='width=device-width,initial-scale=1'>"
        "<title>Pick a new time</title><style>body{font-family:system-ui;max-width:30em;margin:2em auto;"
        "padding:0 1em}button{font-size:1.1em;padding:.6em 1em;margin:.3em 0;width:100%}</style></head><body>"
        f"<h1>Pick a new time</h1><ul style='list-style:none;padding:0'>{rows}</ul></body></html>"
    )
    return HTMLResponse(page)


@router.post("/book/{token}", response_class=HTMLResponse, summary="Book one of the offered slots")
async def book_from_link(token: str, slot_index: Annotated[int, Form(ge=0, le=20)], st: State) -> HTMLResponse:
    case_id, _, current = await _offer_for(st, token)
    if slot_index >= len(current.offered):
        raise HTTPException(422, "that slot is not one of the offered slots")
    await st.cases.handle(case_id).signal(
        RecoveryCaseWorkflow.choose_slot,
        SlotChoice(choice_id=f"link-{token[-12:]}-{slot_index}", slot_index=slot_index, via="link"),
    )
    return HTMLResponse("<!doctype html><p>Thanks! We are booking that time and will confirm shortly.</p>")


async def _offer_for(st: AppState, token: str) -> tuple[str, int, CaseState]:
    try:
        case_id, attempt = verify_link((secret(st.settings.auth.link_secret) or ""), token)
    except LinkError as exc:
        raise HTTPException(403, str(exc)) from None
    try:
        current: CaseState = await st.cases.handle(case_id).query(RecoveryCaseWorkflow.state_query)
    except RPCError:
        raise HTTPException(404, "this offer no longer exists") from None
    if current.stage.value != "offering" or not current.offered:
        raise HTTPException(410, "this offer is no longer open")
    return case_id, attempt, current
