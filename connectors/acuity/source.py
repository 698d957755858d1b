"""Acuity appointments as reconcile snapshots, for the webhooks Acuity documents no retries for. Acuity's list has
no "updated since" filter, only a date window (`GET /appointments?minDate=&maxDate=`, with `showall=true` for
canceled appointments too: https://developers.acuityscheduling.com/reference/get-appointments): each poll lists the
appointments from `back` ago to `ahead` from now and the differ compares them with what was last seen. Each
becomes the snapshot its webhook's follow-up would have produced (connectors/acuity/inbound.py), so a poll and a
webhook land on one case. Whether `max` with the start-time order gives stable pages is UNVERIFIED: one page of up
to `max_results` is read, and a fuller window is logged.

Cursor = ISO time of the poll; Acuity's objects carry no change time, so a snapshot's `changed_at` is the poll's
own time for what changed and the appointment's creation date otherwise (the differ compares states).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from connectors.acuity.client import AcuityClient
from connectors.acuity.inbound import appointment_of, appointment_status
from connectors.sync import Snapshot, SnapshotStatus, SyncPage

log = structlog.get_logger(__name__)

STATUS: dict[str, SnapshotStatus] = {"active": "active", "cancelled": "cancelled", "no_show": "no_show",
                                     "attended": "attended"}


class AcuitySource:
    def __init__(self, client: AcuityClient, source: str = "acuity", back: timedelta = timedelta(days=7),
                 ahead: timedelta = timedelta(days=60), no_show_labels: Iterable[str] = (),
                 attended_labels: Iterable[str] = (), max_results: int = 1000) -> None:
        self.client, self.source, self.back, self.ahead = client, source, back, ahead
        self.no_show_labels, self.attended_labels = list(no_show_labels), list(attended_labels)
        self.max_results = max_results

    def poll(self, cursor: str | None, now: datetime) -> SyncPage:
        rows = self.client.appointments((now - self.back).astimezone(UTC).date(),
                                        (now + self.ahead).astimezone(UTC).date(), self.max_results)
        if len(rows) >= self.max_results:
            log.warning("acuity_poll_window_full", listed=len(rows))
        snaps = [s for s in (self.snapshot(r, now) for r in rows) if s is not None]
        return SyncPage(snapshots=snaps, cursor=now.astimezone(UTC).isoformat())

    def snapshot(self, row: dict[str, Any], now: datetime) -> Snapshot | None:
        appointment = appointment_of(self.source, row)
        if appointment is None:
            return None
        status = STATUS[appointment_status(row, self.no_show_labels, self.attended_labels)]
        return Snapshot(appointment=appointment, status=status, changed_at=now if status != "active" else
                        min(now, appointment.start))
