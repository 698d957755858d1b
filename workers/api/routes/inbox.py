"""The staff inbox: replies nobody could route and tasks the engine opened for a person, and resolving them;
`GET /inbox/tasks` lists the customer messages no case could act on, with their text (admin only)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from workers.api.console.exceptions import inbox_items, resolve_item
from workers.api.deps import Admin, Caller, State
from workers.api.models import Problem

router = APIRouter(tags=["inbox"])


class InboxItem(BaseModel):
    item_id: str
    kind: str  # unknown_sender | closed_case | waitlist_offer | staff_task | failed_send | lapsed_review
    case_id: str | None
    channel: str | None
    text: str
    at: str
    resolved_by: str | None = None
    note: str | None = None
    resolved_at: str | None = None


class ResolveBody(BaseModel):
    note: str | None = Field(default=None, max_length=1000)


@router.get("/inbox", response_model=list[InboxItem], summary="Open staff items (resolved too with resolved=true)")
def list_inbox(st: State, _: Caller, resolved: bool = False) -> list[dict[str, Any]]:
    return inbox_items(st.deps, include_resolved=resolved)


@router.post("/inbox/{item_id}/resolve", responses={404: {"model": Problem}}, summary="Resolve one staff item")
def resolve_inbox_item(item_id: str, body: ResolveBody, st: State, who: Caller) -> dict[str, str]:
    if not resolve_item(st.deps, item_id, who.identity, body.note):
        raise HTTPException(404, "no such open item")
    st.deps.reviews.audit(who.identity, "inbox.resolve", None, {"item": item_id})
    return {"item_id": item_id, "resolved_by": who.identity}


class StaffTask(BaseModel):
    reply_id: str
    case_id: str | None
    routed: str
    intent: str
    status: str
    at: datetime
    channel: str | None
    text: str | None


@router.get("/inbox/tasks", response_model=list[StaffTask], summary="Customer messages waiting for a human")
async def staff_tasks(st: State, _: Admin, status: Literal["open"] = "open",
                      limit: int = Query(default=100, ge=1, le=1000)) -> list[StaffTask]:
    rows = await asyncio.to_thread(st.deps.inbox.tasks, status, limit)
    return [StaffTask.model_validate(r) for r in rows]
