"""`GET /inbox/tasks`: customer messages no case could act on (an unknown sender, only closed cases, an
unclear answer to a waitlist offer), for a human. Admin only: the list carries the messages' text."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from workers.api.deps import Admin, State

router = APIRouter(tags=["inbox"])


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
