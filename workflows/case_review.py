"""The review gate: a human decides before any outreach when the policy says so, and whenever a case asks on its
way (a reply only a person can answer, owner approval, a customer no channel reaches). Reminders, then the
policy's lapse action; replies meanwhile are answered (STOP, HELP) or added to the reviewer's reasons.

Passed through the sandbox like every case module: see workflows/case_base.py.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

import workflows.common as common
from activities.review import ReviewActivities
from domain.case import ReviewDecision, ReviewNotice, ReviewRequest, ReviewResult
from domain.models import TERMINAL_STAGES, CaseKind, Stage, Verdict
from policies import rebooking as rebooking_policy
from policies import review as review_policy
from policies.schema import LapseAction, Segment
from workflows.case_conversation import ConversationSteps
from workflows.case_versions import OWNER_APPROVAL_PATCH


class ReviewSteps(ConversationSteps):
    def _check_decision(self, decision: ReviewDecision) -> None:
        review = self.state.review
        if self.state.stage != Stage.awaiting_review or review is None:
            raise ValueError(f"case is not awaiting review (stage {self.state.stage.value})")
        if decision.review_id != review.review_id:
            raise ValueError("stale decision: it answers an earlier review request")
        if self.decision is not None:
            raise ValueError("this review was already decided")
        if decision.decision == "edit" and not (decision.mark_attended or decision.segment):
            raise ValueError("an edit must mark the case attended or choose a segment")
        if decision.segment is not None and decision.segment not in {s.value for s in Segment}:
            raise ValueError(f"unknown segment {decision.segment!r}")

    async def _gate(self, verdict: Verdict) -> None:
        attendance = self.attendance
        route = review_policy.route(
            review_policy.ReviewInput(
                kind=self.state.kind,
                appointment=self.appointment,
                rules=self.program.review,
                attendance_needs_review=verdict == Verdict.review,
                attendance_confidence=attendance.confidence if attendance else 1.0,
                attendance_reasons=attendance.reasons if attendance else [],
                prior_no_shows_in_window=self.prior_no_shows,
            )
        )
        owner = rebooking_policy.owner_approval_reasons(self.program.rebooking, self.appointment, self.prior_no_shows)
        if owner and self.state.kind != CaseKind.admin_override and workflow.patched(OWNER_APPROVAL_PATCH):
            # the program's risk rules (prior no-shows, value, types) ask the owner before any outreach, once:
            # the booking later does not ask again
            self.owner_ok = True
            reasons = [f"owner approval before any outreach: {why}" for why in owner]
            if route.needs_review:
                route = route.model_copy(update={"reasons": [*route.reasons, *reasons],
                                                 "codes": [*route.codes, "owner_approval"]})
            else:
                route = review_policy.route_for(self.program.review, "owner_approval", reasons[0])
                route.reasons.extend(reasons[1:])
        if self.state.kind != CaseKind.admin_override and route.needs_review:
            await self._review(route)
        await self._checkpoint()

    async def _review(self, route: review_policy.ReviewRoute, resume: Stage = Stage.recovering) -> None:
        """Hold all outreach until a reviewer decides; remind, then apply the policy's lapse action. An approval
        goes on at `resume`."""
        reasons, sla_minutes, reminders, lapse = (route.reasons, route.sla_minutes, route.reminder_minutes,
                                                  route.lapse_action)
        self.review_count += 1
        now = workflow.now()
        review_id = f"{self.inp.case_id}-review-{self.review_count}"
        due = now + timedelta(minutes=sla_minutes)
        self.state.review = ReviewRequest(review_id=review_id, reasons=reasons, requested_at=now, due_at=due)
        self.decision = None
        await self._set_stage(Stage.awaiting_review, next_action_at=due)
        notice = ReviewNotice(case_id=self.inp.case_id, review_id=review_id, reasons=reasons, program=self.program.name)
        # a case waiting for a human is already a no-show in the reports: the request carries the events, or
        # they are written right after it
        self._ledger("review_requested", reason="; ".join(reasons)[:500])
        notice.ledger_events = self._carry()
        await common.run_activity(ReviewActivities.request_review, notice)
        await self._checkpoint()
        escalated = False
        marks = [now + timedelta(minutes=m) for m in reminders] + [due]
        index = 0
        while self.decision is None:
            self._raise_if_closing()
            await self._replies_during_review()
            if self.decision is not None:
                break
            if index < len(marks) and workflow.now() >= marks[index]:
                index += 1
                if index < len(marks):
                    reminder = notice.model_copy(update={"reminder": index, "ledger_events": self._carry()})
                    await common.run_activity(ReviewActivities.request_review, reminder)
                    continue
                # SLA lapsed
                if lapse == LapseAction.suppress or (lapse == LapseAction.escalate and escalated):
                    self._ledger("review_decided", data={"decision": "lapsed", "within_sla": False})
                    await self._finish(Stage.suppressed, "review lapsed")
                if lapse == LapseAction.proceed:
                    self._ledger("review_decided", data={"decision": "lapsed_proceed", "within_sla": False})
                    break
                escalated = True
                await self._crm(
                    "escalation", {},
                    owner_task=f"Review overdue for case {self.inp.case_id}: decide or it is suppressed",
                )
                marks.append(workflow.now() + timedelta(minutes=sla_minutes))
                await self._set_stage(Stage.awaiting_review, next_action_at=marks[-1])
                continue
            await self._wait(marks[index] if index < len(marks) else None, replies=True, decision=True)
        decision = self.decision
        self.state.review = None
        self.decided_review = review_id
        if decision is None:
            await self._set_stage(resume)
            return
        within = workflow.now() <= due
        self._ledger("review_decided", data={"decision": decision.decision, "within_sla": within})
        self._note(f"review {decision.decision}")
        if decision.decision == "reject":
            await self._finish(Stage.closed_by_reviewer, "rejected by reviewer")
        if decision.decision == "suppress":
            await self._finish(Stage.suppressed, "suppressed by reviewer")
        if decision.mark_attended:
            await self._finish(Stage.attended, "reviewer marked attended")
        if decision.segment:
            self.state.segment = decision.segment
        await self._set_stage(resume)

    def _decision_result(self) -> ReviewResult:
        """The answer to a decision once the case acted on it: where it is now and what happens next."""
        stage = self.state.stage
        if stage in TERMINAL_STAGES:
            detail = f"case closed: {self.state.close_reason or stage.value}"
        elif self.resending is not None:
            detail = (f"the message that could not be sent ({self.resending}) is sent again now; if it fails "
                      "again the case comes back for review")
        elif stage == Stage.awaiting_review:
            detail = "the case is waiting for another review"
        elif self.state.next_action_at is not None:
            detail = f"{stage.value}: next action at {self.state.next_action_at.isoformat(timespec='minutes')}"
        else:
            detail = f"{stage.value}: the case goes on now"
        return ReviewResult(accepted=True, stage=stage, next_action_at=self.state.next_action_at, detail=detail)

    async def _replies_during_review(self) -> None:
        while self.replies:
            understanding = await self._next_reply()
            if understanding is not None and self.state.review is not None:
                self.state.review.reasons.append(f"customer replied ({understanding.intent.value})")
