"""Reschedule tasks in the system a missed appointment came from (ServiceTitan's Task Management), when that
source's settings ask for them. A source without an opener here gets nothing: the call is a no-op."""

from __future__ import annotations

from typing import Protocol

import structlog
from temporalio import activity

from domain.case import SourceTaskRequest

log = structlog.get_logger(__name__)


class RescheduleTaskOpener(Protocol):
    def open(self, appointment_id: str, kind: str, idempotency_key: str) -> str | None: ...


class SourceTaskActivities:
    def __init__(self, openers: dict[str, RescheduleTaskOpener] | None = None) -> None:
        self.openers = openers or {}

    @activity.defn(name="open_source_reschedule_task")
    def open_source_reschedule_task(self, req: SourceTaskRequest) -> str | None:
        """The task's id at the source, or None when the source opens none. Keyed by the case: a retried
        activity finds the task it made."""
        opener = self.openers.get(req.source)
        if opener is None:
            return None
        task_id = opener.open(req.appointment_id, req.kind.value, f"{req.case_id}-reschedule-task")
        log.info("source_reschedule_task", case_id=req.case_id, source=req.source, task_id=task_id)
        return task_id
