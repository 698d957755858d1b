"""The activity's notion of now: the server's scheduled time of this attempt.

It equals wall-clock time in production and follows the workflow's clock under a time-skipping test server,
so send windows, caps and expiry are judged on the same timeline the workflow's timers run on.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity


def activity_now() -> datetime:
    try:
        scheduled = activity.info().current_attempt_scheduled_time
    except RuntimeError:  # called outside an activity (unit tests of the class)
        return datetime.now(UTC)
    return scheduled.astimezone(UTC) if scheduled.year > 1970 else datetime.now(UTC)
