"""Cases: one case's state, the list (from Temporal's visibility store), and the local reply simulator."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from domain.addresses import AddressError
from domain.case import AdminCommand, AdminResult, CaseState
from domain.ids import is_case_id
from domain.intake import ReplyOutcome
from domain.models import Reply, Stage
from workers.api.auth.scope import VisibleCase, visibility_clause
from workers.api.deps import Admin, Caller, State
from workers.api.models import CaseSummary, LocalReplyBody, Problem
from workflows.case import RecoveryCaseWorkflow

router = APIRouter(tags=["cases"])


class AdminCommandBody(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


@router.get("/cases/{case_id}", response_model=CaseState, responses={404: {"model": Problem}},
            summary="One case's state (no customer details: the state holds none); 404 outside the caller's programs")
async def get_case(case_id: str, found: VisibleCase) -> CaseState:
    return found


@router.get("/cases", response_model=list[CaseSummary],
            summary="Cases with their stage and outcome: only the caller's programs (admins: every case)")
async def list_cases(st: State, who: Caller, stage: Stage | None = None, limit: int = 100) -> list[CaseSummary]:
    return await list_case_summaries(st.cases.client, stage=stage.value if stage else None,
                                     limit=min(max(limit, 1), 1000), scope=visibility_clause(who))


@router.post("/inbound/local", response_model=ReplyOutcome, tags=["local"],
             summary="Simulate a customer reply to a case (the embedded default's stand-in for an SMS)")
async def local_reply(body: LocalReplyBody, st: State, _: Admin) -> ReplyOutcome:
    reply = Reply(reply_id=f"local-{uuid.uuid4().hex[:16]}", channel=body.channel, text=body.text,
                  received_at=datetime.now(UTC))
    try:
        return await st.cases.submit_reply(reply, sender=body.sender, case_id=body.case_id)
    except AddressError as exc:
        raise HTTPException(422, str(exc)) from None


async def list_case_summaries(client: Client, stage: str | None = None, limit: int = 100,
                              scope: str | None = None) -> list[CaseSummary]:
    query = "WorkflowType = 'RecoveryCase'"
    if scope:
        query += f" AND {scope}"
    if stage:
        if not stage.replace("_", "").isalpha():
            raise HTTPException(422, "stage must be a stage name")
        query += f" AND NoShowStage = '{stage}'"
    out: list[CaseSummary] = []
    async for wf in client.list_workflows(query, limit=limit):
        attrs: dict[str, Any] = dict(wf.search_attributes or {})

        def first(name: str, attrs: dict[str, Any] = attrs) -> Any:
            value = attrs.get(name)
            return value[0] if isinstance(value, list) and value else value

        out.append(CaseSummary(
            case_id=wf.id, status=wf.status.name if wf.status else "UNKNOWN", stage=first("NoShowStage"),
            kind=first("NoShowKind"), needs_review=first("NoShowNeedsReview"), outcome=first("NoShowOutcome"),
            start_time=wf.start_time,
        ))
        if len(out) >= limit:
            break
    return out


ADMIN_ACTIONS = {"cancel": "cancel", "override": "override", "mark-no-show": "mark_no_show",
                 "mark-attended": "mark_attended"}


@router.post("/cases/{case_id}/{action}", response_model=AdminResult,
             responses={404: {"model": Problem}, 409: {"model": Problem}},
             summary="Change a case by hand: cancel, override (recover now), mark-no-show, mark-attended; audited")
async def admin_case_command(case_id: str, action: str, st: State, who: Admin,
                             body: AdminCommandBody | None = None) -> AdminResult:
    if not is_case_id(case_id) or action not in ADMIN_ACTIONS:
        raise HTTPException(404, "no such case or action")
    command = AdminCommand(command_id=f"admin-{uuid.uuid4().hex[:16]}", action=ADMIN_ACTIONS[action],  # type: ignore[arg-type]
                           actor=who.identity, reason=body.reason if body else None)
    try:
        result: AdminResult = await st.cases.handle(case_id).execute_update(RecoveryCaseWorkflow.admin_command,
                                                                            command)
    except WorkflowUpdateFailedError:
        raise HTTPException(409, f"{action} is not possible in the case's current stage") from None
    except RPCError:
        raise HTTPException(404, "no such case or action") from None
    await asyncio.to_thread(st.deps.reviews.audit, who.identity, f"case_{command.action}", case_id,
                            {"command_id": command.command_id, "reason": command.reason or ""})
    return result
