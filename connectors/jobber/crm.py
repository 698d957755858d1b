"""The CRM writes on Jobber (`NOSHOW_CRM_PROVIDER=jobber`): the case's notes (the outcome, the times offered, the
customer's choice) as notes on the client, `clientCreateNote`
(https://developer.getjobber.com/docs/using_jobbers_api/api_queries_and_mutations).

- Fields: Jobber custom fields are not mapped; the local audit copy is the record of the outcome fields.
- Owner tasks stay in the local CRM (the schema's `taskCreate` is UNVERIFIED for public apps).
- A rebooking moves the missed visit itself (the "manual override", connectors/jobber/reschedule.py): the case's
  "rebooked" write names the new start (`next_appointment`), and the visit the case is about is moved there with
  `visitEditSchedule`, keeping its length, with a note on its job. Once per write (`CreateLog`): after an
  unanswered attempt the visit's start is read before moving it again. A case about another source's appointment
  moves nothing in Jobber. No separate booking is recorded (the moved visit is the booking).
Every note goes through `CreateLog`; after an unanswered attempt the `(ref nsk...)` marker is searched for in the
client's recent notes before creating again. Contacts: only `jobber:<client id>` (another source's contact is not
looked up in Jobber: its notes stay local).
"""

from __future__ import annotations

from datetime import datetime

from connectors.contract import PermanentProviderError
from connectors.crm_fields import UNKNOWN_CONTACT
from connectors.jobber.client import JobberClient
from connectors.jobber.reschedule import JobberReschedule
from connectors.jobber.source import jobber_client_id
from connectors.local.remote_creates import CreateLog, marker
from connectors.notes_crm import NotesOnlyCrm


class JobberCrm(NotesOnlyCrm):
    def __init__(self, client: JobberClient, creates: CreateLog, reschedule: JobberReschedule | None = None) -> None:
        self.client, self.creates = client, creates
        self.reschedule = reschedule or JobberReschedule(client)

    def write_fields(self, contact_id: str, appointment_id: str, fields: dict[str, str | None],
                     idempotency_key: str) -> None:
        when = fields.get("next_appointment")
        if fields.get("recovery_status") != "rebooked" or not when or jobber_client_id(contact_id) is None:
            return  # outcome fields stay in the local audit copy; only a rebooking moves the visit
        start = datetime.fromisoformat(when)
        self.creates.once(f"{idempotency_key}-visit", "visit_move", lambda: self.reschedule.move(appointment_id, start),
                          lambda: self.reschedule.moved_to(appointment_id, start))

    def append_note(self, contact_id: str, note: str, idempotency_key: str) -> None:
        client = jobber_client_id(contact_id)
        if client is None:
            raise PermanentProviderError("jobber: not a Jobber client", code=UNKNOWN_CONTACT)
        tag = marker(idempotency_key)
        message = f"{note[:4900]} (ref {tag})"

        def find() -> str | None:
            return next((str(n["id"]) for n in self.client.client_notes(client)
                         if tag in str(n.get("message") or "") and n.get("id")), None)

        self.creates.once(idempotency_key, "client_note", lambda: self.client.add_client_note(client, message), find)
