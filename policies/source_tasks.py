"""Which cases open a reschedule task in the system their appointment came from: a miss (no-show, late cancel,
failed access) from a source that files such tasks. Whether that source's settings want them is the activity's
to know; the case only asks."""

from __future__ import annotations

from domain.models import CaseKind
from policies.review import MISS_KINDS

# sources with a task opener (activities/source_tasks.py): ServiceTitan's Task Management
TASK_SOURCES = frozenset({"servicetitan"})


def opens_source_task(source: str, kind: CaseKind) -> bool:
    return source in TASK_SOURCES and kind in MISS_KINDS
