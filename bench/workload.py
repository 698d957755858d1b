"""What the benchmark sends: its policy file, appointments, signed webhook bodies and raw case starts."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy

from connectors.standard_webhooks import sign
from domain.case import CaseInput
from domain.ids import case_id_for, contact_key_for
from domain.models import Appointment, AppointmentEvent, CaseKind, Contact, EventType
from policies.loader import resolve
from policies.schema import PolicyFile, ProgramMatch, SourceRule
from tests.helpers import default_program, distinct_phone, fast_policy
from workers.dev.demo import daytime_contact
from workers.intake.cases import KIND_BY_EVENT
from workflows.case import RecoveryCaseWorkflow
from workflows.search_attributes import for_case_start

SOURCE = "bench"
SWEEP_TYPE = "sweep"  # runs the whole sequence at once and ends unrecovered: the throughput workload
SHAPED_TYPE = "shaped"  # the shipped sequence's shape (a timer before every step) at 1-minute delays


def bench_policy() -> PolicyFile:
    """tests.helpers.fast_policy (first step at once, send windows as the law requires) plus two programs."""
    policy = fast_policy()
    policy.sources.insert(0, SourceRule(source=SOURCE))
    default = default_program(policy)
    default.rebooking.follow_new_appointment = False  # following the new booking waits until it has happened
    for seq in default.sequences.values():
        seq.reply_wait_hours = 0.05  # 3 minutes: room for the simulated customer's second reply
    sweep = default.model_copy(deep=True)
    sweep.name = "bench_sweep"
    sweep.match = ProgramMatch(sources=[SOURCE], appointment_types=[SWEEP_TYPE])
    for seq in sweep.sequences.values():
        seq.reply_wait_hours = 0.0001  # 0.36 s
        for step in seq.steps:
            step.delay_minutes = 0
    shaped = sweep.model_copy(deep=True)
    shaped.name = "bench_shaped"
    shaped.match = ProgramMatch(sources=[SOURCE], appointment_types=[SHAPED_TYPE])
    for seq in shaped.sequences.values():
        for step in seq.steps:
            step.delay_minutes = 1
    policy.programs[:0] = [sweep, shaped]
    return policy


def write_policy(policy: PolicyFile, path: Path) -> Path:
    path.write_text(yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False))
    return path


def appointment(appointment_type: str = "consultation", start: datetime | None = None,
                minutes: int = 30, calendar_id: str = "cal-1") -> Appointment:
    """A fresh appointment and contact; the contact is somewhere it is daytime so send windows allow a message."""
    start = start or (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    phone, zone = daytime_contact()
    phone = distinct_phone(phone)  # caps count per address: every made-up contact gets a number of its own
    key = uuid.uuid4().hex[:12]
    return Appointment(
        source=SOURCE, appointment_id=f"appt-{key}", appointment_type=appointment_type, calendar_id=calendar_id,
        owner_id="owner-1", location_id="loc-1", start=start, end=start + timedelta(minutes=minutes), value=120.0,
        contact=Contact(contact_id=f"c-{key}", name="Pat Example", phone=phone, email=f"pat+{key}@example.com",
                        timezone=zone),
    )


def future_appointment(appointment_type: str = "consultation", days: int = 30) -> Appointment:
    return appointment(appointment_type, start=(datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0))


def event(appt: Appointment, type_: EventType) -> AppointmentEvent:
    return AppointmentEvent(event_id=f"evt-{uuid.uuid4().hex}", type=type_, occurred_at=datetime.now(UTC),
                            appointment=appt)


def signed_webhook(secret: str, ev: AppointmentEvent) -> tuple[bytes, dict[str, str]]:
    """A Standard Webhooks delivery to /webhooks/events, signed as a sending system would sign it."""
    body = json.dumps({"type": ev.type.value, "timestamp": datetime.now(UTC).isoformat(),
                       "data": ev.model_dump(mode="json")}).encode()
    msg_id = f"msg_{uuid.uuid4().hex}"
    ts = int(datetime.now(UTC).timestamp())
    return body, {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts),
                  "webhook-signature": sign(secret, msg_id, ts, body)}


def case_start(policy: PolicyFile, ev: AppointmentEvent, salt: str = "noshow") -> tuple[CaseInput, str]:
    """The exact workflow input CaseService.submit_event builds for this event."""
    appt = ev.appointment
    resolved, reason = resolve(policy, appt)
    if resolved is None:
        raise ValueError(f"the bench policy ignores this appointment: {reason}")
    kind = KIND_BY_EVENT[ev.type]
    watch = ev.type in (EventType.booked, EventType.rescheduled, EventType.attendance_signal)
    case_id = case_id_for(appt.source, appt.appointment_id, salt)
    return CaseInput(case_id=case_id, contact_key=contact_key_for(appt.contact.contact_id, salt), kind=kind,
                     appointment=appt, resolved=resolved, watch=watch or kind == CaseKind.no_show,
                     reply_model=False), case_id


async def start_raw(client: Client, task_queue: str, inp: CaseInput, ev: AppointmentEvent
                    ) -> WorkflowHandle[RecoveryCaseWorkflow, object]:
    """The same start CaseService makes (signal-with-start, reject duplicates, attributes at start), straight to
    Temporal."""
    return await client.start_workflow(
        RecoveryCaseWorkflow.run, inp, id=inp.case_id, task_queue=task_queue,
        start_signal="appointment_event", start_signal_args=[ev],
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE, search_attributes=for_case_start(inp),
    )
