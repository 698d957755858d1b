"""Pipedrive activities as reconcile snapshots, polled with `updated_since` (RFC 3339, `update_time >=` it) and
cursor pages (https://developers.pipedrive.com/docs/api/v1/Activities, v2 `GET /api/v2/activities`).

Status: `is_deleted` -> cancelled; an `outcome` among the configured no-show outcome ids -> no_show; `done` ->
attended; else active. Deleted activities are not listed by default (UNVERIFIED whether v2 lists them at all):
the `delete` webhook is the path for cancellations. The person's name, email and phone are read once per person
per poll (`GET /api/v2/persons/{id}`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from connectors.contract import ProviderError
from connectors.inbound import clip, opt_dt
from connectors.pipedrive.client import PipedriveClient
from connectors.pipedrive.inbound import DEFAULT_TYPES, activity_appointment
from connectors.sync import Snapshot, SnapshotStatus, SyncPage
from domain.models import Contact

log = structlog.get_logger(__name__)


def primary(values: Any) -> str | None:
    """The primary (else the first) `value` of a v2 person's `emails` / `phones` list."""
    items = [v for v in values if isinstance(v, dict) and v.get("value")] if isinstance(values, list) else []
    chosen = next((v for v in items if v.get("primary")), items[0] if items else None)
    return str(chosen["value"]) if chosen else None


def person_contact(contact_id: str, person: dict[str, Any]) -> Contact:
    return Contact(contact_id=contact_id, name=clip(person.get("name"), 200),
                   email=clip(primary(person.get("emails")), 254), phone=clip(primary(person.get("phones")), 32))


class PipedriveSource:
    """Cursor = ISO time of the last activity change seen."""

    def __init__(self, client: PipedriveClient, source: str = "pipedrive", types: Iterable[str] = DEFAULT_TYPES,
                 no_show_outcomes: Iterable[str] = (), first_lookback: timedelta = timedelta(days=1)) -> None:
        self.client, self.source, self.first_lookback = client, source, first_lookback
        self.types = {t.strip().lower() for t in types if t.strip()}
        self.no_show_outcomes = {str(o) for o in no_show_outcomes}

    def poll(self, cursor: str | None, now: datetime) -> SyncPage:
        since = (opt_dt(cursor) if cursor else None) or now - self.first_lookback
        people: dict[str, dict[str, Any]] = {}
        snaps = [s for s in (self.snapshot(r, people) for r in self.client.activities(since)) if s is not None]
        latest = max([s.changed_at for s in snaps], default=since)
        return SyncPage(snapshots=snaps, cursor=latest.astimezone(UTC).isoformat())

    def status(self, row: dict[str, Any]) -> SnapshotStatus:
        if row.get("is_deleted"):
            return "cancelled"
        if row.get("outcome") is not None and str(row["outcome"]) in self.no_show_outcomes:
            return "no_show"
        return "attended" if row.get("done") else "active"

    def snapshot(self, row: dict[str, Any], people: dict[str, dict[str, Any]]) -> Snapshot | None:
        if str(row.get("type") or "").lower() not in self.types:
            return None
        appointment = activity_appointment(self.source, row)
        person = clip(row.get("person_id"), 100)
        if appointment is None or person is None:
            return None  # untimed, or nobody to recover
        if person not in people:
            try:
                people[person] = self.client.record("persons", person)
            except ProviderError as exc:
                log.info("pipedrive_person_unreadable", error=type(exc).__name__)
                people[person] = {}
        contact = person_contact(appointment.contact.contact_id, people[person])
        return Snapshot(appointment=appointment.model_copy(update={"contact": contact}), status=self.status(row),
                        changed_at=opt_dt(row.get("update_time")) or appointment.start)
