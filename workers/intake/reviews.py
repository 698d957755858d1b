"""A reviewer's decision reaching its case, from the API or from a Slack button, recorded and audited the
same way."""

from __future__ import annotations

import structlog
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from connectors.contract import ReviewAction
from domain.case import CaseState, ReviewDecision
from workers.api.auth.principal import slack_principal
from workers.dependencies import Dependencies
from workers.intake.cases import CaseService
from workflows.case import RecoveryCaseWorkflow

log = structlog.get_logger(__name__)


def record_decision(deps: Dependencies, case_id: str, decision: ReviewDecision, via: str) -> None:
    """The review queue and the audit log, after the case accepted the decision."""
    deps.reviews.mark(decision.review_id, "decided", decision.decision, decision.reviewer)
    deps.reviews.audit(decision.reviewer, f"review.{decision.decision}", case_id,
                       {"review_id": decision.review_id, "note": decision.note, "via": via})
    log.info("review_decided", case_id=case_id, decision=decision.decision, via=via)


async def apply_slack_decision(cases: CaseService, reviewers: str, action: ReviewAction) -> None:
    """A Slack button press: only listed Slack users (or anyone with `*`) decide, each only for the programs its
    entry in NOSHOW_SLACK_REVIEWERS names; a stale button answers the review still open when it is one of its
    reminders."""
    user_id = action.reviewer.removeprefix("slack:").split(" ")[0]
    who = slack_principal(reviewers, user_id)
    if who is None:
        log.info("slack_decision_refused", case_id=action.case_id, reason="reviewer not allowed")
        return
    handle = cases.handle(action.case_id)
    try:
        current: CaseState = await handle.query(RecoveryCaseWorkflow.state_query)
        if current.review is None:
            return
        if not who.may_review(current.program):
            log.info("slack_decision_refused", case_id=action.case_id, reason="program not allowed")
            return
        # the Slack button carries the notification's key: "<review id>-<reminder number>"
        clicked = action.review_id or ""
        review_id = current.review.review_id if clicked.rsplit("-", 1)[0] == current.review.review_id else clicked
        decision = ReviewDecision(review_id=review_id,
                                  decision=action.decision if action.decision != "edit" else "approve",
                                  reviewer=action.reviewer, note=action.note)
        await handle.execute_update(RecoveryCaseWorkflow.review_decision, decision)
    except (RPCError, WorkflowUpdateFailedError) as exc:
        log.info("slack_decision_rejected", case_id=action.case_id, error=type(exc).__name__)
        return
    record_decision(cases.deps, action.case_id, decision, via="slack")
