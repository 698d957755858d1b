"""The "manual override" on Jobber: suggest new dates for a missed visit and move the visit when one is taken.

Jobber has no availability query (none in the 2022-03-10 schema), so the times offered come from the engine's
own calendar (the configured calendar provider); this records what was offered, and what the customer chose, as
a note on the visit's job (`jobCreateNote`) and moves the visit with `visitEditSchedule`
(https://developer.getjobber.com/docs/using_jobbers_api/api_queries_and_mutations). UNVERIFIED: that
`visitEditSchedule` is open to public apps (it is in the schema dump), and whether Jobber notifies the client of a
moved visit on its own. A note carries the times only, never the customer's details.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from connectors.contract import PermanentProviderError
from connectors.inbound import opt_dt
from connectors.jobber.client import JobberClient, jobber_time
from domain.models import Slot


class JobberReschedule:
    def __init__(self, client: JobberClient) -> None:
        self.client = client

    def _job(self, visit_id: str) -> str:
        job = self.client.visit(visit_id).get("job")
        job_id = job.get("id") if isinstance(job, dict) else None
        if not job_id:
            raise PermanentProviderError("jobber: the visit has no job", code="no_job")
        return str(job_id)

    def suggest(self, visit_id: str, slots: Sequence[Slot]) -> str:
        """A note on the visit's job listing the offered times; the note's id."""
        if not slots:
            raise ValueError("no times to suggest")
        times = ", ".join(jobber_time(s.start) for s in slots[:10])
        note = self.client.add_job_note(self._job(visit_id), f"Missed visit: new times offered to the client: {times}")
        return str(note.get("id") or "")

    def reschedule(self, visit_id: str, start: datetime, end: datetime) -> None:
        """Move the visit to the chosen time and note it on the job."""
        job = self._job(visit_id)
        self.client.edit_schedule(visit_id, start, end)
        self.client.add_job_note(job, f"Missed visit rescheduled by the client to {jobber_time(start)}")

    def move(self, visit_id: str, start: datetime) -> str:
        """The missed visit moved to the rebooked start, keeping its length (the crew's time on site); the visit's
        id. A visit already at that start is left as it is, so a repeated move changes nothing."""
        visit = self.client.visit(visit_id)
        at, until = opt_dt(visit.get("startAt")), opt_dt(visit.get("endAt"))
        if at is None or until is None:
            raise PermanentProviderError("jobber: the visit is gone or has no schedule", code="no_visit")
        if at != start:
            self.reschedule(visit_id, start, start + (until - at))
        return visit_id

    def moved_to(self, visit_id: str, start: datetime) -> str | None:
        """The visit's id when it already stands at `start` (a move whose answer was lost), else None."""
        return visit_id if opt_dt(self.client.visit(visit_id).get("startAt")) == start else None
