"""The waitlist and its backfills over HTTP: who is waiting for an opening, and what became of a freed slot.

Joining is an admin (ops) action: the contact's details are stored in the CRM, the waitlist holds only ids.
Reading a backfill needs a reviewer (or higher) of its program; its state holds opaque contact keys, never PII.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from temporalio.service import RPCError

from domain.addresses import AddressError, normalise_contact
from domain.backfill import BackfillState
from domain.models import Contact
from workers.api.auth.scope import workflow_program
from workers.api.deps import Admin, Caller, State
from workers.api.models import Problem
from workflows.backfill import SlotBackfill

router = APIRouter(tags=["waitlist"])

TypeName = Annotated[str, Field(min_length=1, max_length=100)]
CalendarId = Annotated[str, Field(min_length=1, max_length=200)]


class WaitlistJoin(BaseModel):
    contact: Contact
    appointment_type: TypeName
    calendar_id: CalendarId


class WaitlistJoined(BaseModel):
    added: bool  # false when the contact was already waiting (their place in the queue is kept)
    position: int  # 1 = next to be offered an opening


class WaitlistEntryOut(BaseModel):
    contact_id: str
    appointment_type: str
    calendar_id: str
    added_at: datetime


class WaitlistLeft(BaseModel):
    removed: bool


@router.post("/waitlist", response_model=WaitlistJoined, responses={401: {"model": Problem}},
             summary="Put a contact on the waitlist for openings of one appointment type on one calendar")
def join(body: WaitlistJoin, st: State,
         _: Admin) -> WaitlistJoined:
    try:  # the addresses offers go to and replies come from, in canonical form
        contact = normalise_contact(body.contact, st.settings.routing.default_region)
    except AddressError as exc:
        raise HTTPException(422, str(exc)) from None
    st.deps.crm.upsert_contact(contact)
    waitlist = st.deps.waitlist
    added = waitlist.add(body.contact.contact_id, body.appointment_type, body.calendar_id)
    queue = [e.contact_id for e in waitlist.waiting(body.appointment_type, body.calendar_id)]
    return WaitlistJoined(added=added, position=queue.index(body.contact.contact_id) + 1)


@router.get("/waitlist", response_model=list[WaitlistEntryOut],
            summary="Who is waiting for an opening, oldest first (contact ids only)")
def waiting(st: State, _: Admin,
            appointment_type: Annotated[str, Query(min_length=1, max_length=100)],
            calendar_id: Annotated[str, Query(min_length=1, max_length=200)],
            limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[WaitlistEntryOut]:
    entries = st.deps.waitlist.waiting(appointment_type, calendar_id, limit=limit)
    return [WaitlistEntryOut.model_validate(e.model_dump()) for e in entries]


@router.delete("/waitlist/{contact_id}", response_model=WaitlistLeft,
               summary="Take a contact off the waitlist for one appointment type on one calendar")
def leave(contact_id: str, st: State, _: Admin,
          appointment_type: Annotated[str, Query(min_length=1, max_length=100)],
          calendar_id: Annotated[str, Query(min_length=1, max_length=200)]) -> WaitlistLeft:
    return WaitlistLeft(removed=st.deps.waitlist.remove(contact_id, appointment_type, calendar_id))


@router.get("/backfills/{backfill_id}", response_model=BackfillState, responses={404: {"model": Problem}},
            summary="A freed slot's backfill: batches offered, the winner (an opaque contact key), the outcome")
async def backfill(backfill_id: str, st: State, who: Caller) -> BackfillState:
    if not backfill_id.startswith("backfill-") or len(backfill_id) > 100:
        raise HTTPException(404, "no such backfill")
    if not who.every_program and not who.may_see(await workflow_program(st.cases.client, backfill_id) or ""):
        raise HTTPException(404, "no such backfill")  # another program's backfill does not exist for the caller
    try:
        found: BackfillState = await st.cases.client.get_workflow_handle(backfill_id).query(
            SlotBackfill.state_query)
    except RPCError:
        raise HTTPException(404, "no such backfill") from None
    return found

