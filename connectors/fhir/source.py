"""FHIR Appointments as reconcile snapshots, polled on the reconcile Schedule: the default inbound path, since
Epic's and Oracle Health's Subscription support for Appointment is UNVERIFIED.

Each poll searches `GET [base]/Appointment?_lastUpdated=gt<cursor>&_count=100` (`_lastUpdated` is a standard
search parameter, https://hl7.org/fhir/R4/search.html#_lastUpdated, with the `gt` prefix,
https://hl7.org/fhir/R4/search.html#prefix; whether each vendor supports it on Appointment, and whether Epic asks
for a patient or date parameter with it, is UNVERIFIED) and follows `Bundle.link[next]`. The cursor is the latest
`meta.lastUpdated` seen, never later than a minute before the poll (a change committed as the search ran is read
again next time; the differ drops what it has seen). The first poll reads `first_lookback` back. Each
appointment's Patient is read once per poll, for its phone and email only (connectors/fhir/resources.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from connectors.contract import PermanentProviderError
from connectors.fhir.client import FhirClient
from connectors.fhir.resources import appointment_snapshot, patient_contact, patient_of
from connectors.inbound import opt_dt
from connectors.sync import Snapshot, SyncPage

log = structlog.get_logger(__name__)

OVERLAP = timedelta(minutes=1)
PAGE_SIZE = 100


def fhir_instant(at: datetime) -> str:
    """A FHIR instant in UTC, to the millisecond: `gt` a cursor cut to the second would list its own change again."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FhirSource:
    def __init__(self, client: FhirClient, calendar_id: str = "fhir",
                 first_lookback: timedelta = timedelta(days=1)) -> None:
        self.client, self.calendar_id, self.first_lookback = client, calendar_id, first_lookback

    def poll(self, cursor: str | None, now: datetime) -> SyncPage:
        since = (opt_dt(cursor) if cursor else None) or now - self.first_lookback
        patients: dict[str, dict[str, Any] | None] = {}
        snaps: list[Snapshot] = []
        skipped = 0
        for resource in self.client.search("Appointment", {"_lastUpdated": f"gt{fhir_instant(since)}",
                                                           "_count": PAGE_SIZE}):
            patient = patient_of(resource)
            snap = appointment_snapshot(resource, patient_contact(patient, self._patient(patient, patients)),
                                        self.calendar_id) if patient else None
            if snap is None:
                skipped += 1
                continue
            snaps.append(snap)
        if skipped:
            log.info("fhir_appointments_skipped", count=skipped)  # not booked, no patient or not valid R4
        latest = max([s.changed_at for s in snaps], default=since)
        upto = max(since, min(latest, now - OVERLAP))
        return SyncPage(snapshots=snaps, cursor=upto.astimezone(UTC).isoformat())

    def _patient(self, patient_id: str, patients: dict[str, dict[str, Any] | None]) -> dict[str, Any] | None:
        if patient_id not in patients:
            try:
                patients[patient_id] = self.client.read("Patient", patient_id)
            except PermanentProviderError as exc:  # the appointment stands without a phone or email
                log.info("fhir_patient_unreadable", error=type(exc).__name__)
                patients[patient_id] = None
        return patients[patient_id]
