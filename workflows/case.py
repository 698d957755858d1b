"""One recovery case: a long-running workflow from booking (or no-show report) to a kept new appointment.

The run is a stage machine: watching -> checking -> (awaiting_review) -> recovering -> offering -> rebooked ->
following -> a terminal stage (confirmed, rebooked_missed, attended, unrecovered, opted_out, suppressed,
closed_by_reviewer, cancelled). Each stage is a module of its own, passed through the sandbox so every cached
case shares one copy of the code (see workflows/case_base.py for the layers and why); this module puts them
together and holds the entry points. Deterministic: time comes from `workflow.now()`, every decision is a pure
call into `policies/`, every side effect is an activity with an idempotency key built from the case id and the
step.

Versions (workflow.patched; saved histories of each are replayed in tests/engine/test_replay.py):
- LEAN_PATCH, decided once when a case starts (`self.version`, workflows/case_versions.py): fewer billed
  actions and history events per case. Search attributes come with the start and are upserted only when the
  stage really changes; replies are classified in the workflow when no reply model may be used; ledger events
  ride on the next activity that runs anyway (`ledger_events`) and the case's last side effect runs in the
  close-out, carrying the closing events. Cases started before it keep their old command sequence to the end.
- STOP_PATCH and UNREACHABLE_PATCH, decided where they apply, so running cases get these fixes too: a send
  blocked by an opt-out first answers the STOP queued behind it (one confirmation); a message no approved
  channel could deliver (a permanent provider refusal) asks a human instead of being skipped.
- OPT_OUT_ENDS_WATCH_PATCH and DEFERRAL_HEARS_REPLIES_PATCH (workflows/case_versions.py), decided where they
  apply: an opt-out signalled while the case watches its booking ends the watch; a sequence step waiting for
  the send window gives way to a reply that arrives meanwhile.
- REBOOKED_MISSED_PATCH, decided when a followed new appointment turns out not kept: the case closes as
  `rebooked_missed` instead of `confirmed` (cases that got there before keep `confirmed`).
- DECISION_ANSWERS_NEW_STAGE_PATCH, decided in the review update: the answer waits until the case acted on the
  decision and carries the new stage, the next action and what happens now.
- UNREACHABLE_RETRY_PATCH, decided after an approval of a message no channel could deliver: the message is sent
  again at once; failing again, it comes back for review with that said (cases before: on to the next step).

Retiring LEAN_PATCH, in two deploys:
1. Once no case started before LEAN_PATCH is open. Check (must count 0, LEAN_PATCH's deploy time in UTC):
       temporal workflow count --query "WorkflowType='RecoveryCase' AND ExecutionStatus='Running'
           AND StartTime < '<LEAN_PATCH deploy time>'"
   and, as a cross-check, the Running count equals the count with `AND TemporalChangeVersion = 'lean-case-1'`
   (the SDK writes that attribute with the marker). Then replace `workflow.patched(LEAN_PATCH)` in `run` with
   `workflow.deprecate_patch(LEAN_PATCH)` and `self.version = versions.LEAN`. The pre-LEAN histories
   (tests/histories/v1/) can no longer replay from here: take them out of the replay suite in the same change.
   Closed pre-LEAN cases can no longer be queried either (a query replays the history), so if the API must
   still show them, wait until the namespace retention has passed since the last of them closed.
2. Once the longest case lifetime has passed since deploy 1 (every case that recorded the old, non-deprecated
   marker has closed, plus the retention if they must stay queryable): remove the `deprecate_patch` call,
   delete ClassicCase and the version hooks (each call site keeps LeanCase's answer) and tests/histories/v1/,
   and regenerate the current histories, which carry that marker.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # `import workflows.x as y`, never `from workflows import x`: that would re-import the module per sandbox
    import workflows.case_base as base
    import workflows.case_sequence as sequence
    import workflows.case_versions as versions
    import workflows.case_watch as watch
    from domain.case import (
        AdminCommand,
        AdminResult,
        CaseInput,
        CaseState,
        OptOutNotice,
        ReviewDecision,
        ReviewResult,
        SlotChoice,
    )
    from domain.models import AppointmentEvent, CaseKind, Reply, Stage

LEAN_PATCH = versions.LEAN_PATCH
STOP_PATCH = versions.STOP_PATCH
UNREACHABLE_PATCH = versions.UNREACHABLE_PATCH
REBOOKED_MISSED_PATCH = versions.REBOOKED_MISSED_PATCH
DECISION_ANSWERS_NEW_STAGE_PATCH = versions.DECISION_ANSWERS_NEW_STAGE_PATCH
UNREACHABLE_RETRY_PATCH = versions.UNREACHABLE_RETRY_PATCH
CaseClosed = base.CaseClosed


@workflow.defn(name="RecoveryCase")
class RecoveryCaseWorkflow(sequence.SequenceSteps, watch.WatchSteps):
    """The recovery sequence (with the conversation, offer and booking, review and sending it builds on) and
    the watch over the booking, on one case's state."""

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
    async def review_decision(self, decision: ReviewDecision) -> ReviewResult:
        self.decision = decision
        if workflow.patched(DECISION_ANSWERS_NEW_STAGE_PATCH):
            # answer once the case acted on it (or left the review some other way, e.g. an opt-out), so the
            # reviewer sees the new stage and what happens next, not the stage they decided in
            await workflow.wait_condition(lambda: self.decided_review == decision.review_id
                                          or self.state.stage != Stage.awaiting_review)
            return self._decision_result()
        return ReviewResult(accepted=True, stage=self.state.stage)

    @review_decision.validator
    def _validate_review(self, decision: ReviewDecision) -> None:
        self._check_decision(decision)

    @workflow.update
    def admin_command(self, command: AdminCommand) -> AdminResult:
        return self._on_admin(command)

    @admin_command.validator
    def _validate_admin(self, command: AdminCommand) -> None:
        self._check_admin(command)

    @workflow.query
    def state_query(self) -> CaseState:
        return self.state

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, inp: CaseInput) -> CaseState:
        self.version = versions.version_for(workflow.patched(LEAN_PATCH))
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


__all__ = ["RecoveryCaseWorkflow"]
