"""Reviewers' queue and decisions. A reviewer sees and decides only the programs it is scoped to: another
program's case does not exist for it (404)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from domain.case import ReviewDecision, ReviewResult
from workers.api.auth.scope import visible_case
from workers.api.deps import AppState, Caller, Principal, State
from workers.api.models import DecisionBody, PendingReview, Problem
from workers.intake.reviews import record_decision
from workflows.case import RecoveryCaseWorkflow

router = APIRouter(tags=["reviews"])


@router.get("/reviews", response_model=list[PendingReview], summary="Pending reviews the caller may decide")
async def pending_reviews(st: State, who: Caller) -> list[PendingReview]:
    """Soonest due first, each with the appointment, its value and the evidence."""
    from workers.api.console.data import review_items

    out: list[PendingReview] = []
    for view in await review_items(st.cases.client, st.deps, who.may_review):
        review, appt = view.state.review, view.inp.appointment if view.inp else None
        assert review is not None  # review_items keeps only cases waiting for this review
        evidence = list(view.state.verdict_reasons) + [
            f"{g['kind']}{' ' + str(g['value']) if g.get('value') else ''} ({g['source']})" for g in view.signals]
        out.append(PendingReview(
            review_id=review.review_id, case_id=view.state.case_id, reasons=review.reasons,
            program=view.state.program, requested_at=review.requested_at.isoformat(), due_at=review.due_at,
            appointment_type=view.state.appointment_type, appointment_start=appt.start if appt else None,
            value=appt.value if appt else None, currency=appt.currency if appt else None, evidence=evidence,
            prior_no_shows=view.prior_no_shows, opted_out=view.opted_out, assignee=view.assignee,
        ))
    return out


@router.post("/reviews/{case_id}/decision", response_model=ReviewResult,
             responses={401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem},
                        409: {"model": Problem}},
             summary="Approve, reject, edit or suppress a case waiting for review")
async def decide(case_id: str, body: DecisionBody, st: State, who: Caller) -> ReviewResult:
    return await submit_decision(st, who, case_id, body)


async def submit_decision(st: AppState, who: Principal, case_id: str, body: DecisionBody) -> ReviewResult:
    """Check the caller may decide this case, hand the decision to it and record it; HTTPException otherwise."""
    await visible_case(case_id, st, who)  # another program's case does not exist for this caller (404)
    handle = st.cases.handle(case_id)
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
