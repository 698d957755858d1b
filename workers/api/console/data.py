"""What the console pages show, read from the case (its state query and its start input), the local records
(attendance signals, prior no-shows, consent, the outbox, the ledger, the audit trail) and the policy. No page
reads anything a route of the JSON API could not."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

from activities.messaging import render_message
from connectors.local.staff_inbox import StaffInbox
from domain.case import CaseInput, CaseState, SendRequest
from domain.models import Channel
from policies import sequences as sequence_policy
from policies.schema import LapseAction, Segment, Step
from workers.dependencies import Dependencies
from workflows.case import RecoveryCaseWorkflow

FAR = datetime.max.replace(tzinfo=UTC)
LAPSE_WORDS = {
    LapseAction.suppress: "the case is closed without any message",
    LapseAction.proceed: "the case goes on as if approved",
    LapseAction.escalate: "the owner gets a task; if still undecided after another SLA, the case is closed",
}


@dataclass
class Preview:
    channel: str | None
    subject: str | None
    body: str | None
    template: str | None
    note: str  # where the text comes from, or why there is none


@dataclass
class CaseView:
    state: CaseState
    inp: CaseInput | None
    signals: list[dict[str, Any]] = field(default_factory=list)
    prior_no_shows: int = 0
    opted_out: list[str] = field(default_factory=list)
    preview: Preview | None = None
    lapse: str = ""
    assignee: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def due_at(self) -> datetime | None:
        return self.state.review.due_at if self.state.review else None


async def case_input(client: Client, case_id: str) -> CaseInput | None:
    """The case's start input (appointment with contact, resolved program), decoded by the client's converter."""
    try:
        history = await client.get_workflow_handle(case_id).fetch_history()
    except RPCError:
        return None
    started = history.events[0].workflow_execution_started_event_attributes if history.events else None
    if started is None or not started.input.payloads:
        return None
    values = await client.data_converter.decode(started.input.payloads, [CaseInput])
    found = values[0] if values else None
    return found if isinstance(found, CaseInput) else None


async def case_view(client: Client, deps: Dependencies, case_id: str, full: bool = False) -> CaseView | None:
    try:
        state: CaseState = await client.get_workflow_handle(case_id).query(RecoveryCaseWorkflow.state_query)
    except RPCError:
        return None
    inp = await case_input(client, case_id)
    view = CaseView(state=state, inp=inp)
    if inp is not None:
        appt = inp.appointment
        view.signals = [dict(r) for r in deps.calendar.attendance(appt.appointment_id)]
        rules = inp.resolved.program.review
        view.prior_no_shows = deps.verdicts.prior_no_shows(inp.contact_key, case_id, appt.start,
                                                           rules.repeat_window_days)
        view.opted_out = sorted(deps.consent.opted_out_channels(inp.contact_key))
        view.lapse = LAPSE_WORDS.get(rules.lapse_action, str(rules.lapse_action))
        view.preview = preview(inp, state, view.prior_no_shows, set(view.opted_out))
    if full:
        view.messages = deps.outbox.messages(case_id)
        view.events = [e.model_dump(mode="json") for e in deps.ledger.events(case_id)]
        view.decisions = deps.reviews.audit_log(case_id)
    return view


def preview(inp: CaseInput, state: CaseState, prior_no_shows: int, opted_out: set[str]) -> Preview:
    """The next message of the sequence as an approval would send it now (the same rendering as the send)."""
    if state.messages_sent or state.offered:
        return Preview(None, None, None, None, "after approval the case offers new times from live availability; "
                                               "that message is built when the slots are held")
    program = inp.resolved.program
    segment = Segment(state.segment) if state.segment else sequence_policy.segment_for(
        program, inp.appointment, prior_no_shows)
    sequence = sequence_policy.sequence_for(program, segment)
    if not sequence.steps:
        return Preview(None, None, None, None, "this segment's sequence sends nothing")
    step = sequence.steps[min(state.step, len(sequence.steps) - 1)]
    contact = inp.appointment.contact
    facts = sequence_policy.ChannelFacts(
        has_phone=bool(contact.phone), has_email=bool(contact.email),
        opted_out=[Channel(c) for c in opted_out if c != "*"], preferred=contact.preferred_channel,
        whatsapp_template_approved=True,
    )
    order = [] if "*" in opted_out else sequence_policy.channel_order(
        Step(delay_minutes=0, template=step.template, channels=list(step.channels)), facts)
    if not order:
        return Preview(None, None, None, step.template, "no channel may reach this contact (opt-out or no address)")
    request = SendRequest(message_id=f"{inp.case_id}-preview", case_id=inp.case_id, contact_key=inp.contact_key,
                          appointment=inp.appointment, resolved=inp.resolved, template_id=step.template,
                          channels=list(step.channels), first_message=state.step == 0,
                          created_at=inp.appointment.end, variables={"slot_list": ""}, kind=state.kind)
    rendered = render_message(request, order[0], datetime.now(UTC))
    if isinstance(rendered, str):
        return Preview(order[0].value, None, None, step.template, f"cannot be sent as it stands: {rendered}")
    subject, body, template_id = rendered
    return Preview(order[0].value, subject, body, template_id,
                   f"segment {segment.value}, step {state.step + 1} of {len(sequence.steps)}")


async def review_items(client: Client, deps: Dependencies, may_review: Any) -> list[CaseView]:
    """Pending reviews the caller may decide, soonest due first."""
    assignees = StaffInbox(deps.db).assignees()
    out: list[CaseView] = []
    for row in deps.reviews.pending():
        if not may_review(str(row["program"])):
            continue
        view = await case_view(client, deps, str(row["case_id"]))
        if view is None or view.state.review is None or view.state.review.review_id != row["review_id"]:
            continue  # decided or lapsed since: the queue row is stale
        view.assignee = assignees.get(str(row["review_id"]))
        out.append(view)
    return sorted(out, key=lambda v: v.due_at or FAR)
