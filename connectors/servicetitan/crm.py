"""The CRM writes on ServiceTitan (`NOSHOW_CRM_PROVIDER=servicetitan`): the case's notes on the customer and the
owner's "reschedule this missed visit" tasks in Task Management (connectors/servicetitan/client.py cites the API).

- Fields: ServiceTitan custom fields are not mapped; the local audit copy is the record of the outcome fields.
- Notes: `POST /crm/v2/tenant/{tenant}/customers/{id}/notes`. Through `CreateLog`; after an unanswered attempt the
  `(ref nsk...)` marker is searched for in the customer's notes before creating again (a note has no id: the
  marker names it).
- Tasks: `POST /taskmanagement/v2/tenant/{tenant}/tasks` with the task settings (reporter, assignee, type, source,
  business unit), the customer, priority High and `completeBy` a day ahead. The API lists no tasks, so a task
  whose create went unanswered cannot be looked for: the retry may make a second one (UNVERIFIED: whether a
  task search exists). Without the task settings a task stays in the local CRM.
Contacts: only `servicetitan:<customerId>`; another source's contact is not looked up in ServiceTitan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connectors.contract import PermanentProviderError
from connectors.crm_fields import UNKNOWN_CONTACT
from connectors.local.remote_creates import CreateLog, marker
from connectors.notes_crm import NotesOnlyCrm
from connectors.servicetitan.client import ServiceTitanClient, st_time


@dataclass(frozen=True)
class TaskIds:
    reporter: int
    assignee: int
    business_unit: int
    task_type: int
    task_source: int


def task_fields(ids: TaskIds, name: str, now: datetime, assignee: int | None = None) -> dict[str, object]:
    """A Task Management create's required fields: priority High, due a day after `now`."""
    return {"reportedById": ids.reporter, "assignedToId": assignee or ids.assignee, "isClosed": False,
            "name": name[:200], "businessUnitId": ids.business_unit, "employeeTaskTypeId": ids.task_type,
            "employeeTaskSourceId": ids.task_source, "priority": "High", "reportedDate": st_time(now),
            "completeBy": st_time(now + timedelta(days=1))}


def customer_of(contact_id: str | None, source: str = "servicetitan") -> str | None:
    rest = (contact_id or "").removeprefix(f"{source}:")
    return rest if rest != contact_id and rest.isdigit() else None


class ServiceTitanCrm(NotesOnlyCrm):
    def __init__(self, client: ServiceTitanClient, creates: CreateLog, tasks: TaskIds | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client, self.creates, self.tasks, self.clock = client, creates, tasks, clock

    def append_note(self, contact_id: str, note: str, idempotency_key: str) -> None:
        customer = customer_of(contact_id)
        if customer is None:
            raise PermanentProviderError("servicetitan: not a ServiceTitan customer", code=UNKNOWN_CONTACT)
        tag = marker(idempotency_key)

        def create() -> str:
            self.client.add_customer_note(customer, f"{note[:4900]} (ref {tag})")
            return f"note-{tag}"

        def find() -> str | None:
            seen = any(tag in str(n.get("text") or "") for n in self.client.customer_notes(customer))
            return f"note-{tag}" if seen else None

        self.creates.once(idempotency_key, "customer_note", create, find)

    def create_task(self, owner_id: str | None, title: str, idempotency_key: str, *,
                    contact_id: str | None = None) -> None:
        ids = self.tasks
        if ids is None:
            return
        fields = task_fields(ids, title, self.clock(), int(owner_id) if owner_id and owner_id.isdigit() else None)
        customer = customer_of(contact_id)
        if customer is not None:
            fields["customerId"] = int(customer)
        self.creates.once(idempotency_key, "task", lambda: self.client.create_task(fields), lambda: None)
