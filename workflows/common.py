"""What the workflows share: one way to call an activity, stage search attributes, one copy of each program.

Imported through `imports_passed_through`, so every workflow in the worker shares this module (and the programs
cached below) instead of re-importing it into each sandbox. Nothing here reads the clock or the environment.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from threading import Lock
from typing import Any, TypeVar, overload

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate

from policies.schema import ResolvedProgram
from workflows import search_attributes as sa

ACTIVITY_TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=50,
    non_retryable_error_types=[
        "PermanentProviderError",
        "ProtectedFieldError",
        "TemplateNotFound",
        "ValidationError",
    ],
)

Owner = TypeVar("Owner")
Arg = TypeVar("Arg")
Result = TypeVar("Result")


@overload
async def run_activity(activity: Callable[[Owner, Arg], Awaitable[Result]], arg: Arg, *,
                       start_to_close: timedelta = ..., retry: RetryPolicy = ...,
                       schedule_to_close: timedelta | None = ...) -> Result: ...


@overload
async def run_activity(activity: Callable[[Owner, Arg], Result], arg: Arg, *,
                       start_to_close: timedelta = ..., retry: RetryPolicy = ...,
                       schedule_to_close: timedelta | None = ...) -> Result: ...


async def run_activity(activity: Callable[..., Any], arg: Any, *, start_to_close: timedelta = ACTIVITY_TIMEOUT,
                       retry: RetryPolicy = RETRY, schedule_to_close: timedelta | None = None) -> Any:
    """Run one activity, named by its method on the activity class (`SchedulingActivities.book_slot`): the
    registered name, the argument's type and the result's type come from the definition, so a renamed or
    retyped activity fails type checking instead of at run time. The project's timeout and retry unless told.
    No heartbeat timeout: none of the activities heartbeat (one that starts to must get one here)."""
    return await workflow.execute_activity_method(
        activity, arg, start_to_close_timeout=start_to_close, retry_policy=retry,
        schedule_to_close_timeout=schedule_to_close,
    )


@dataclass
class StageMark:
    """The stage (and next-action time) a workflow last wrote to its search attributes."""

    stage: str | None = None
    next_action_at: datetime | None = None

    def move(self, stage: str, next_action_at: datetime | None, track_next: bool = True) -> bool:
        """Note a move; True when the attributes would show something new (an upsert, one billed action)."""
        if stage == self.stage and (not track_next or next_action_at == self.next_action_at):
            return False
        self.stage, self.next_action_at = stage, next_action_at
        return True


def stage_updates(stage: str, next_action_at: datetime | None, extra: Sequence[SearchAttributeUpdate[Any]] = (),
                  outcome: str | None = None, static: Sequence[SearchAttributeUpdate[Any]] = ()
                  ) -> list[SearchAttributeUpdate[Any]]:
    """One upsert's worth: the stage, the workflow's own extras, the next action, the outcome, the fixed ones."""
    updates: list[SearchAttributeUpdate[Any]] = [sa.STAGE.value_set(stage), *extra]
    updates.append(sa.NEXT_ACTION_AT.value_set(next_action_at) if next_action_at else sa.NEXT_ACTION_AT.value_unset())
    if outcome is not None:
        updates.append(sa.OUTCOME.value_set(outcome))
    updates.extend(static)
    return updates


# ------------------------------------------------------------------ one copy of each program per worker

_PROGRAMS: OrderedDict[str, ResolvedProgram] = OrderedDict()
_PROGRAMS_LOCK = Lock()
_PROGRAMS_MAX = 64


def shared_program(resolved: ResolvedProgram) -> ResolvedProgram:
    """The worker's one copy of an equal resolved program. Thousands of cached cases started under the same
    policy then hold one program and its templates instead of one each (about 55 KB a case). Equal values,
    so replay is unaffected; workflows must treat it as read-only, as they treat their input."""
    key = resolved.model_dump_json()
    with _PROGRAMS_LOCK:
        found = _PROGRAMS.get(key)
        if found is not None:
            _PROGRAMS.move_to_end(key)
            return found
        _PROGRAMS[key] = resolved
        if len(_PROGRAMS) > _PROGRAMS_MAX:
            _PROGRAMS.popitem(last=False)
    return resolved


def slim(resolved: ResolvedProgram, template_id: str | None = None) -> ResolvedProgram:
    """What an activity needs of the program: the program itself and only the templates it may render (none for
    CRM, offers, consent). Every activity input used to carry every template (~8 KB each)."""
    # a template's words per case kind and segment travel with it ("offer_slots.customer_cancel")
    templates = [t for t in resolved.templates if t.id == template_id or t.id.startswith(f"{template_id}.")] \
        if template_id else []
    return resolved.model_copy(update={"templates": templates})
