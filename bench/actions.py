"""History events and Temporal Cloud billable actions of one workflow run, counted from its history.

The counting rule follows Temporal Cloud's published action list (docs/evaluate/cloud/actions.mdx in
temporalio/documentation), restricted to what a history shows:
- workflow started: 1; a signal-with-start is 1 action in total, so its start signal adds nothing
- each signal received (WorkflowExecutionSignaled): 1
- each activity scheduled: 1, plus 1 per retry (ActivityTaskStarted.attempt - 1)
- each timer started: 1 (also the implicit timer of `wait_condition(timeout=...)`, even when later cancelled)
- each search-attribute upsert command: 1, however many keys it sets (attributes set at start are free; an
  upsert of TemporalChangeVersion alone, which the SDK writes with a patch marker, is exempt by Cloud's docs)
- each update accepted: 1 (a rejected update is also 1 but leaves no history event, so it is not seen here)
- local activities: 1 per workflow task that records any local-activity marker; the markers of
  `workflow.patched` (version gates) are not in Cloud's action list and are counted apart (`patch`, not billed)
- not in history, so not counted here: queries (1 each when a worker answers one, e.g. the API's case
  lookup), rejected updates, activity heartbeats that reach the server
Workflow tasks, activity completions, timer firings and the close event are not billable.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

RULE = (
    "actions = start (a signal-with-start counts once) + signals + activities scheduled (+ retries) + timers "
    "started + search-attribute upserts + updates accepted + 1 per workflow task recording local-activity "
    "markers (workflow.patched markers and the SDK's TemporalChangeVersion upsert beside them are not billed, by "
    "Cloud's action list); queries, rejected updates and heartbeats leave no history and are not counted (none "
    "are sent in these scenarios)"
)


LOCAL_ACTIVITY_MARKER = "core_local_activity"
PATCH_MARKER = "core_patch"
CHANGE_VERSION = "TemporalChangeVersion"  # the SDK's own upsert beside a patch marker; not billed


@dataclass
class RunCount:
    events: int
    actions: int
    parts: Counter[str]  # billed parts
    activities: Counter[str]
    patches: int = 0  # version-gate markers in the history (not billed)


def count(history: WorkflowHistory) -> RunCount:
    events = list(history.events)
    parts: Counter[str] = Counter()
    activities: Counter[str] = Counter()
    marker_tasks: set[int] = set()
    patches = 0
    for index, event in enumerate(events):
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            parts["start"] += 1
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            # the signal of a signal-with-start is written right after the start event and is not billed apart
            if not (index == 1 and events[0].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED):
                parts["signal"] += 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            parts["activity"] += 1
            activities[event.activity_task_scheduled_event_attributes.activity_type.name] += 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            parts["activity_retry"] += max(event.activity_task_started_event_attributes.attempt - 1, 0)
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            parts["timer"] += 1
        elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            keys = set(event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields)
            if keys != {CHANGE_VERSION}:
                parts["upsert"] += 1
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            parts["update"] += 1
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == PATCH_MARKER:
                patches += 1
            else:  # a local activity (any other marker is counted too, to err on the billed side)
                marker_tasks.add(marker.workflow_task_completed_event_id)
        elif kind in (EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,):
            parts["child"] += 2
    parts["marker"] = len(marker_tasks)
    return RunCount(events=len(events), actions=sum(parts.values()), parts=parts, activities=activities,
                    patches=patches)
