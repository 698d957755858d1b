"""Provider-neutral snapshot of an appointment as a calendar/scheduler reports it now, used by incremental
sync and reconciliation: a differ turns snapshots into canonical events (activities/reconcile.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from domain.models import Appointment, AttendanceSignal

SnapshotStatus = Literal["active", "cancelled", "no_show", "attended", "rescheduled"]


class Snapshot(BaseModel):
    appointment: Appointment
    status: SnapshotStatus
    changed_at: datetime
    note: str | None = None
    signal: AttendanceSignal | None = None  # what the source says beyond the status (who cancelled)


class SyncPage(BaseModel):
    snapshots: list[Snapshot] = Field(default_factory=list)
    cursor: str | None = None  # the provider's sync token / delta link / timestamp to resume from
    full_resync: bool = False  # the old cursor expired (410): this page is a full listing


class ReconcilePage(SyncPage):
    """A SyncPage with what the raw provider items said beyond the snapshots (keys: appointment ids)."""

    meetings: dict[str, str] = Field(default_factory=dict)  # appointment id -> the one Zoom meeting it names
    contact_problems: dict[str, str] = Field(default_factory=dict)  # appointment id -> why no contact
