"""Reviewers' queue and decisions. A reviewer sees and decides only the programs their token names."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from domain.case import CaseState, ReviewDecision, ReviewResult
from domain.ids import is_case_id
from workers.api.deps import AppState, Caller, Principal, State
from workers.api.models import DecisionBody, PendingReview, Problem
from workers.intake.reviews import record_decision
from workflows.case import RecoveryCaseWorkflow

router = APIRouter(tags=["reviews"])


@router.get("/reviews", response_model=list[PendingReview], summary="Pending reviews the caller may decide")
async def pending_reviews(st: State, who: Caller) -> list[PendingReview]:
    return [PendingReview.model_validate(r) for r in st.deps.reviews.pending() if who.may_review(str(r["program"]))]


@router.post("/reviews/{case_id}/decision", response_model=ReviewResult,
             responses={401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem},
                        409: {"model": Problem}},
             summary="Approve, reject, edit or suppress a case waiting for review")
async def decide(case_id: str, body: DecisionBody, st: State, who: Caller) -> ReviewResult:
    return await submit_decision(st, who, case_id, body)


async def submit_decision(st: AppState, who: Principal, case_id: str, body: DecisionBody) -> ReviewResult:
    """Check the caller may decide this case, hand the decision to it and record it; HTTPException otherwise."""
    if not is_case_id(case_id):  # another workflow's id must not be queried (or updated) as a case
        raise HTTPException(404, "no such case")
    handle = st.cases.handle(case_id)
    try:
        current: CaseState = await handle.query(RecoveryCaseWorkflow.state_query)
    except RPCError:
        raise HTTPException(404, "no such case") from None
    if not who.may_review(current.program):
        raise HTTPException(403, f"{who.identity} may not review program {current.program!r}")
    decision = ReviewDecision(reviewer=who.identity, **body.model_dump())
    try:
        result: ReviewResult = await handle.execute_update(RecoveryCaseWorkflow.review_decision, decision)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause.message if exc.cause and hasattr(exc.cause, "message") else str(exc)
        raise HTTPException(409, f"decision rejected: {cause}") from None
    except RPCError as exc:
        raise HTTPException(409, f"decision rejected: {exc.message}") from None
    record_decision(st.deps, case_id, decision, via="api")
    return result
