"""The self-serve page a signed, expiring link in an offer opens: the offered slots, one tap to book, and a page
people can read for every outcome (booked, taken, expired, already booked, closed). The link expires when the
offer's holds do (domain/links.py carries that instant), the same rule a reply by message follows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse
from temporalio.service import RPCError

from connectors.settings import secret
from domain.case import CaseState, SlotChoice
from domain.links import LinkError, read_link
from workers.api import booking_pages as pages
from workers.api.deps import AppState, State
from workflows.case import RecoveryCaseWorkflow

router = APIRouter(tags=["self-serve"])
BOOKED_STAGES = frozenset({"rebooked", "following", "confirmed", "rebooked_missed"})
CONFIRM_WAIT_SECONDS = 4.0


class _Outcome(Exception):
    def __init__(self, status: int, body: str) -> None:
        self.status, self.body = status, body


# every answer of the self-serve link is a page a customer reads on a phone, never JSON
PAGE = {"content": {"text/html": {"schema": {"type": "string"}}}}
PAGE_ANSWERS: dict[int | str, dict[str, Any]] = {
    202: {"description": "the booking is being made", **PAGE},
    404: {"description": "no such link", **PAGE},
    409: {"description": "the time was just taken: the page offers the others", **PAGE},
    410: {"description": "the offer has expired or the case has closed", **PAGE},
    422: {"description": "the chosen time is no longer offered", **PAGE},
}


@router.get("/book/{token}", response_class=HTMLResponse, responses=PAGE_ANSWERS,
            summary="The self-serve page listing the offered slots")
async def booking_page(token: str, st: State) -> HTMLResponse:
    try:
        _, current = await _offer_for(st, token)
    except _Outcome as out:
        return HTMLResponse(out.body, status_code=out.status)
    return HTMLResponse(pages.choose(current))


@router.post("/book/{token}", response_class=HTMLResponse, responses=PAGE_ANSWERS,
             summary="Book one of the offered slots")
async def book_from_link(token: str, slot_index: Annotated[int, Form(ge=0, le=20)], st: State) -> HTMLResponse:
    try:
        case_id, current = await _offer_for(st, token)
    except _Outcome as out:
        return HTMLResponse(out.body, status_code=out.status)
    if slot_index >= len(current.offered):
        return HTMLResponse(pages.choose(current, taken=True), status_code=422)
    chosen = current.offered[slot_index].start
    handle = st.cases.handle(case_id)
    await handle.signal(RecoveryCaseWorkflow.choose_slot,
                        SlotChoice(choice_id=f"link-{token[-12:]}-{slot_index}", slot_index=slot_index, via="link"))
    deadline = asyncio.get_running_loop().time() + CONFIRM_WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.25)
        try:
            now: CaseState = await handle.query(RecoveryCaseWorkflow.state_query)
        except RPCError:
            break
        if now.new_appointment_start == chosen and now.stage.value in BOOKED_STAGES:
            return HTMLResponse(pages.message("booked", now, chosen))
        if now.stage.value == "offering" and now.offered and now.offered[0].start != current.offered[0].start:
            return HTMLResponse(pages.choose(now, taken=True), status_code=409)
    return HTMLResponse(pages.message("booking", current, chosen), status_code=202)


async def _offer_for(st: AppState, token: str) -> tuple[str, CaseState]:
    try:
        case_id, _, expires = read_link((secret(st.settings.auth.link_secret) or ""), token)
    except LinkError:
        raise _Outcome(404, pages.message("missing")) from None
    try:
        current: CaseState = await st.cases.handle(case_id).query(RecoveryCaseWorkflow.state_query)
    except RPCError:
        raise _Outcome(404, pages.message("missing")) from None
    if current.stage.value in BOOKED_STAGES and current.new_appointment_start is not None:
        raise _Outcome(200, pages.message("already", current, current.new_appointment_start))
    if datetime.now(UTC) >= expires:
        raise _Outcome(410, pages.message("expired", current))
    if current.stage.value not in ("offering", "recovering") or not current.offered:
        raise _Outcome(410, pages.message("closed", current))
    return case_id, current
