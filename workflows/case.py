"""One recovery case: a long-running workflow from booking (or no-show report) to a kept new appointment.

The entry points live here; the steps they run are CaseSteps (workflows/case_steps.py), a module the sandbox passes
through so every cached case shares one copy of the code. Deterministic: time comes from `workflow.now()`, every
decision is a pure call into `policies/`, every side effect is an activity with an idempotency key built from the
case id and the step.

Versions (workflow.patched; saved histories of both are replayed in tests/engine/test_replay.py):
- LEAN_PATCH, decided once when a case starts: fewer billed actions and history events per case. Search
  attributes come with the start and are upserted only when the stage really changes (not for the transient
  `checking` / `rebooked`, not when only the next-action time moves); replies are classified in the workflow
  with policies/replies when no reply model may be used; the case's ledger events ride on the next activity
  that runs anyway (`records`) and the case's last side effect runs in the close-out, carrying the closing
  events. Cases started before it keep their old command sequence to the end.
- STOP_PATCH and UNREACHABLE_PATCH, decided where they apply, so running cases get these fixes too: a send
  blocked by an opt-out first answers the STOP queued behind it (one confirmation); a message no approved
  channel could deliver (a permanent provider refusal) asks a human instead of being skipped.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    import workflows.case_steps as steps  # not `from workflows import`: that would re-import it per sandbox
    from domain.case import CaseInput, CaseState, OptOutNotice, ReviewDecision, ReviewResult, SlotChoice
    from domain.models import AppointmentEvent, CaseKind, Reply

LEAN_PATCH = steps.LEAN_PATCH
STOP_PATCH = steps.STOP_PATCH
UNREACHABLE_PATCH = steps.UNREACHABLE_PATCH
CaseClosed = steps.CaseClosed


@workflow.defn(name="RecoveryCase")
class RecoveryCaseWorkflow(steps.CaseSteps):
    @workflow.init
    def __init__(self, inp: CaseInput) -> None:
        self._setup(inp)

    # ------------------------------------------------------------------ handlers

    @workflow.signal
    def appointment_event(self, event: AppointmentEvent) -> None:
        self._on_event(event)

    @workflow.signal
    def customer_reply(self, reply: Reply) -> None:
        if reply.reply_id in self.seen_ids:
            return
        self.seen_ids.add(reply.reply_id)
        self.replies.append(reply)

    @workflow.signal
    def opted_out(self, notice: OptOutNotice) -> None:
        if self.opt_out is None:
            self.opt_out = notice

    @workflow.signal
    def choose_slot(self, choice: SlotChoice) -> None:
        if choice.choice_id not in self.seen_ids:
            self.seen_ids.add(choice.choice_id)
            self.slot_choice = choice

    @workflow.update
    def review_decision(self, decision: ReviewDecision) -> ReviewResult:
        self.decision = decision
        return ReviewResult(accepted=True, stage=self.state.stage)

    @review_decision.validator
    def _validate_review(self, decision: ReviewDecision) -> None:
        self._check_decision(decision)

    @workflow.query
    def state_query(self) -> CaseState:
        return self.state

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, inp: CaseInput) -> CaseState:
        self.lean = workflow.patched(LEAN_PATCH)
        self._ledger("case_opened", value=self.appointment.value)
        await self._set_stage(self.state.stage)
        try:
            await self._watch()
            verdict = await self._check()
            await self._gate(verdict)
            if self.state.kind == CaseKind.reschedule_request:
                await self._offer_and_book()
            else:
                await self._recover()
        except CaseClosed:
            pass
        await self._close_out()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state



__all__ = ["ActivityError", "RecoveryCaseWorkflow"]
