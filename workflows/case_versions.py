"""The case workflow's versions: patch ids, and what LEAN_PATCH changed as one object chosen when a case starts.

A case reads `workflow.patched(LEAN_PATCH)` once, at the top of its run, and keeps the answer as `self.version`
(LEAN or CLASSIC below). Every difference between the two is one method here, asked in exactly one place of the
case's bookkeeping (workflows/case_base.py, plus `_understand` in workflows/case_conversation.py); the stages
themselves never ask which version they run. Retiring LEAN_PATCH then means deleting CLASSIC and the call sites'
`self.version.` (see the plan in workflows/case.py).

Pure: no clock, no I/O, no workflow calls (the callers pass in what they read), so it is passed through the
sandbox like the steps and guarded by tests/engine/test_sandbox_guard.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from temporalio.common import TypedSearchAttributes

import workflows.search_attributes as sa
from domain.models import Stage
from policies import review as review_policy
from policies.schema import ReviewRules
from workflows.common import StageMark

LEAN_PATCH = "lean-case-1"
STOP_PATCH = "stop-queued-behind-send-1"
UNREACHABLE_PATCH = "unreachable-goes-to-review-1"
REBOOKED_MISSED_PATCH = "rebooked-missed-stage-1"
# a review decision answers once the case has acted on it (the new stage, the next action), not at once
DECISION_ANSWERS_NEW_STAGE_PATCH = "decision-answers-new-stage-1"
# approving a case whose message no channel could deliver sends that message again at once
UNREACHABLE_RETRY_PATCH = "unreachable-approval-resends-1"
# a reply with an opt-out word inside other words gets the one clarification FCC 24-24 allows
OPT_OUT_CLARIFY_PATCH = "opt-out-clarify-once-1"
# an offer made after a reply follows the day / part of day / time the customer asked for
OFFER_PREFERENCE_PATCH = "offer-follows-request-1"
# a reply picking from an offer whose holds have expired gets fresh times, as an expired link does
OFFER_EXPIRY_PATCH = "one-offer-expiry-1"
# a sequence message that shows slots or the booking link holds an offer first, so those variables exist
OFFER_IN_SEQUENCE_PATCH = "offer-in-sequence-message-1"
# an opt-out signalled while the case watches its booking ends the watch (it used to wake the timer and loop)
OPT_OUT_ENDS_WATCH_PATCH = "opt-out-ends-watching-1"
# a recovery message waiting for the send window (or a cap) gives way to a reply that arrives meanwhile
DEFERRAL_HEARS_REPLIES_PATCH = "deferred-send-hears-replies-1"
# the watching stage sends the confirmation and reminders and listens to replies (C / R / cancel)
WATCH_PATCH = "watch-confirm-remind-1"
# the rebooking's owner-approval rules (prior no-shows, value, types) ask a human before any outreach
OWNER_APPROVAL_PATCH = "owner-approval-before-outreach-1"
# every terminal stage writes its outcome to the CRM (opted out, suppressed, cancelled, attended ...)
CRM_EVERY_CLOSE_PATCH = "crm-record-every-close-1"
# the owner hears of cancellations and high-value misses at once
OWNER_ALERTS_PATCH = "owner-alerts-1"
# a reply about a fee, deposit, charge or refund is read as such and handed to the program's payment link or to
# staff (before it, such replies were read as questions, time proposals or other)
PAYMENT_HANDOFF_PATCH = "payment-handoff-1"
# a rebooked appointment the case follows gets the program's reminders, like a booking that is watched
FOLLOW_REMINDERS_PATCH = "follow-new-appointment-reminders-1"
# a cancellation by the business (a provider's, a seller's) is a business_cancel case with its own words, never
# the customer's cancellation (before it, such a case took the customer_cancel words)
BUSINESS_CANCEL_PATCH = "business-cancel-kind-1"
# a miss from a source that files tasks (ServiceTitan) opens one reschedule task there, when its settings ask
SOURCE_TASK_PATCH = "source-reschedule-task-1"

# stages the case passes through without waiting: not worth an upsert (one billed action each) under LEAN_PATCH
TRANSIENT_STAGES = frozenset({Stage.checking, Stage.rebooked})


class Upsert(NamedTuple):
    """Whether a stage move is written to the search attributes, and with the fixed ones (source, contact ...)."""

    needed: bool
    with_fixed: bool = False


class ClassicCase:
    """Cases started before LEAN_PATCH, kept to their old command sequence until they close: ledger events are
    written by their own record_ledger activity at checkpoints (after the gate, after a review request, at the
    close-out), replies always go to the understand_reply activity, a case's last side effect runs when it is
    decided, and every change of stage or due time is upserted."""

    name = "classic"

    def carries_ledger(self) -> bool:
        """Whether the next activity that runs takes the pending ledger events along (and writes them first)."""
        return False

    def writes_ledger_at_checkpoints(self) -> bool:
        return True

    def writes_ledger_before_waiting(self) -> bool:
        return False

    def defers_last_side_effect(self) -> bool:
        """Whether a closing step's activity (a CRM write, a consent record) waits for the close-out, so it can
        carry the closing ledger events."""
        return False

    def classifies_replies(self, model_may_classify: bool) -> bool:
        """Whether the workflow runs the reply rules itself instead of the understand_reply activity."""
        return False

    def route(self, rules: ReviewRules, code: str, reason: str) -> review_policy.ReviewRoute:
        """The review a case asks for on its way (a reply, owner approval, an unreachable customer)."""
        return review_policy.ReviewRoute(needs_review=True, reasons=[reason], sla_minutes=rules.sla_minutes,
                                         reminder_minutes=list(rules.reminder_minutes),
                                         lapse_action=rules.lapse_action)

    def upsert(self, mark: StageMark, stage: Stage, next_action_at: datetime | None, passing: bool,
               started: TypedSearchAttributes | None) -> Upsert:
        """Whether moving to `stage` is an upsert; moves `mark` when it is. `started`: the attributes the case
        started with, given for its first move only. `passing`: a move the next one (with its due time)
        follows at once."""
        first = mark.stage is None
        return Upsert(mark.move(stage.value, next_action_at), with_fixed=first)


class LeanCase(ClassicCase):
    """Cases started with LEAN_PATCH: fewer billed actions and history events. Ledger events ride on the next
    activity that runs anyway and are written before the case sits waiting; the close-out runs the case's last
    side effect, carrying the closing events; replies are classified in the workflow when no reply model may be
    used; search attributes come with the start and are upserted only when the stage really changes."""

    name = "lean"

    def carries_ledger(self) -> bool:
        return True

    def writes_ledger_at_checkpoints(self) -> bool:
        return False

    def writes_ledger_before_waiting(self) -> bool:
        return True

    def defers_last_side_effect(self) -> bool:
        return True

    def classifies_replies(self, model_may_classify: bool) -> bool:
        # the rules the activity would run, in the workflow: pure, deterministic, no activity to pay for
        return not model_may_classify

    def route(self, rules: ReviewRules, code: str, reason: str) -> review_policy.ReviewRoute:
        return review_policy.route_for(rules, code, reason)

    def upsert(self, mark: StageMark, stage: Stage, next_action_at: datetime | None, passing: bool,
               started: TypedSearchAttributes | None) -> Upsert:
        if started is not None and started.get(sa.CONTACT_KEY) is not None:
            # the starter set them all (free): upsert only if it showed another stage
            mark.stage = started.get(sa.STAGE)
            return Upsert(mark.move(stage.value, next_action_at, track_next=False))
        if started is not None:
            # without start attributes the first upsert cannot wait: the opt-out fan-out finds cases by contact key
            mark.move(stage.value, next_action_at)
            return Upsert(True, with_fixed=True)
        if passing or stage in TRANSIENT_STAGES:
            return Upsert(False)
        # the due time is written with the stage, not moved within it
        return Upsert(mark.move(stage.value, next_action_at, track_next=False))


CLASSIC = ClassicCase()
LEAN = LeanCase()
CaseVersion = ClassicCase  # the type both are


def version_for(lean: bool) -> CaseVersion:
    return LEAN if lean else CLASSIC
