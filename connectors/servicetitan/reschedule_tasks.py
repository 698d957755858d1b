"""The reschedule task a missed ServiceTitan job opens in ServiceTitan (NOSHOW_SERVICETITAN_RESCHEDULE_TASK_ON_MISS).

When a case for a ServiceTitan appointment turns out to be a miss (a no-show, a late cancel, a failed access), the
office gets one task on that job in Task Management (`POST /taskmanagement/v2/tenant/{tenant}/tasks`, the
`tenant-task-management-v2` spec at https://developer.servicetitan.io/apis/): filed with the task settings, on the
job and its customer, named by the job's own number and the kind of miss only. The customer's name, phone or email
never go into it: ServiceTitan already shows them on the job the task links to.

ServiceTitan has no idempotency key, so the create goes through the create log: the row is written before the
create, and a retry after a lost answer lists the job's tasks (`GET .../tasks?jobId=`) for the `(ref nsk...)`
marker in the description before creating again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from connectors.contract import PermanentProviderError
from connectors.inbound import clip
from connectors.local.remote_creates import CreateLog, marker
from connectors.servicetitan.client import ServiceTitanClient
from connectors.servicetitan.crm import TaskIds, task_fields

# how a task names the miss: the case kinds that open one
MISS_WORDS = {"no_show": "no-show", "late_cancel": "late cancel", "failed_access": "failed access"}


class ServiceTitanRescheduleTasks:
    def __init__(self, client: ServiceTitanClient, creates: CreateLog, ids: TaskIds,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client, self.creates, self.ids, self.clock = client, creates, ids, clock

    def open(self, appointment_id: str, kind: str, idempotency_key: str) -> str | None:
        """The task's id, created once per key; None for a kind that is not a miss."""
        words = MISS_WORDS.get(kind)
        if words is None:
            return None
        job_id = str(self.client.appointment(appointment_id).get("jobId") or "")
        if not job_id.isdigit():
            raise PermanentProviderError("servicetitan: the appointment has no job", code="no_job")
        job = self.client.jobs([job_id]).get(job_id, {})
        number = clip(job.get("jobNumber"), 40) or job_id
        tag = marker(idempotency_key)
        fields = task_fields(self.ids, f"Reschedule missed job #{number} ({words})", self.clock())
        fields |= {"jobId": int(job_id), "description": f"The {words} of job #{number} opened a recovery case: "
                                                        f"rebook the visit. (ref {tag})"}
        customer = str(job.get("customerId") or "")
        if customer.isdigit():
            fields["customerId"] = int(customer)

        def find() -> str | None:
            return next((str(t["id"]) for t in self.client.job_tasks(job_id)
                         if t.get("id") is not None and tag in str(t.get("description") or "")), None)

        return self.creates.once(idempotency_key, "reschedule_task", lambda: self.client.create_task(fields), find)
