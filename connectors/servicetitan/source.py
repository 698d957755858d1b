"""ServiceTitan appointments as reconcile snapshots: the primary inbound path (V2 webhooks are in beta and their
signature scheme is not published, see below).

Each poll lists the appointments modified since the cursor (`GET /jpm/v2/tenant/{tenant}/appointments
?modifiedOnOrAfter=`, https://developer.servicetitan.io/api-details/#api=tenant-jpm-v2&operation=Appointments_GetList),
then reads their jobs (`GET .../jobs?ids=`, for the customer, business unit and job type), the cancel reasons of
the cancelled ones (`GET .../jobs/cancel-reasons?ids=`) and each customer's name and contacts once
(`GET /crm/v2/tenant/{tenant}/customers/{id}` and `.../contacts`).

Status (`Crm.V2.AppointmentStatus`: Scheduled, Dispatched, Working, Hold, Done, Canceled; job `jobStatus`
Scheduled, InProgress, Hold, Completed, Canceled):
- Done -> attended.
- Canceled (or the job Canceled) with a cancel reason listed in NOSHOW_SERVICETITAN_NO_SHOW_REASON_IDS -> no_show.
  ServiceTitan has no no-show status: a technician's "no access" / "customer not home" outcome is recorded by the
  office as the job's cancel reason, a per-tenant list (`GET /jpm/v2/tenant/{tenant}/job-cancel-reasons`), so the
  tenant names which reason ids mean it. UNVERIFIED: that tenants record failed access this way; whether any other
  field (the job's `Unused` appointment filter, whose meaning the spec does not define) marks it.
- Canceled with a reason listed in NOSHOW_SERVICETITAN_FAILED_ACCESS_REASON_IDS -> no_show carrying the
  technician's failed-access report (a `technician_report` signal): the case is a failed-access case, which the
  policy's review rules send to a person before any message (the technician was there; why they could not get in
  is for the office to judge).
- Other cancels -> cancelled; everything else -> active.

Cursor = the latest `modifiedOn` seen (RFC 3339 UTC); `modifiedOnOrAfter` includes it, so the newest change is
read again on the next poll and the differ drops what did not change.

Webhooks: ServiceTitan's V2 webhooks (https://developer-next.servicetitan.io/docs/webhooks) sign the payload
with an HMAC key set in the portal, but the header name, the digest encoding, whether a timestamp is signed, the
event names and the payload are UNVERIFIED, so no `/webhooks/servicetitan` route is offered: one that verified a
guessed header would either refuse every real delivery or pretend to authenticate.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from connectors.contract import ProviderError
from connectors.inbound import clip, contact_id_for, opt_dt
from connectors.servicetitan.client import ServiceTitanClient
from connectors.sync import Snapshot, SnapshotStatus, SyncPage
from domain.models import Appointment, AttendanceSignal, Contact, SignalKind

log = structlog.get_logger(__name__)

APPOINTMENT_TYPE = "servicetitan_appointment"
PHONE_TYPES = ("MobilePhone", "Phone")


def first_of(contacts: list[dict[str, Any]], kinds: tuple[str, ...]) -> str | None:
    for kind in kinds:
        for row in contacts:
            if row.get("type") == kind and row.get("value"):
                return str(row["value"])
    return None


class ServiceTitanSource:
    """Cursor = ISO time of the last appointment change seen."""

    def __init__(self, client: ServiceTitanClient, no_show_reason_ids: list[str] | None = None,
                 source: str = "servicetitan", first_lookback: timedelta = timedelta(days=1),
                 failed_access_reason_ids: list[str] | None = None) -> None:
        self.client, self.source, self.first_lookback = client, source, first_lookback
        self.no_show_reasons = {str(r).strip() for r in no_show_reason_ids or [] if str(r).strip()}
        self.failed_access_reasons = {str(r).strip() for r in failed_access_reason_ids or [] if str(r).strip()}

    def poll(self, cursor: str | None, now: datetime) -> SyncPage:
        since = (opt_dt(cursor) if cursor else None) or now - self.first_lookback
        rows = self.client.appointments(since)
        jobs = self.client.jobs(str(r.get("jobId")) for r in rows)
        cancelled = [j for j, job in jobs.items() if job.get("jobStatus") == "Canceled"] + [
            str(r.get("jobId")) for r in rows if r.get("status") == "Canceled"]
        wanted = self.no_show_reasons or self.failed_access_reasons
        reasons = self.client.cancel_reasons(cancelled) if cancelled and wanted else {}
        people: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        snaps: list[Snapshot] = []
        for row in rows:
            job = jobs.get(str(row.get("jobId")), {})
            snap = self.snapshot(row, job, reasons.get(str(row.get("jobId"))), self._person(job, people))
            if snap is not None:
                snaps.append(snap)
        latest = max([opt_dt(r.get("modifiedOn")) or since for r in rows], default=since)
        return SyncPage(snapshots=snaps, cursor=max(since, latest).astimezone(UTC).isoformat())

    def status(self, row: dict[str, Any], job: dict[str, Any], reason: str | None) -> SnapshotStatus:
        if row.get("status") == "Done":
            return "attended"
        if row.get("status") == "Canceled" or job.get("jobStatus") == "Canceled":
            missed = reason is not None and reason in self.no_show_reasons | self.failed_access_reasons
            return "no_show" if missed else "cancelled"
        return "active"

    def snapshot(self, row: dict[str, Any], job: dict[str, Any], reason: str | None,
                 person: tuple[dict[str, Any], list[dict[str, Any]]]) -> Snapshot | None:
        appointment_id, start = clip(row.get("id"), 100), opt_dt(row.get("start"))
        customer = clip(job.get("customerId"), 100)
        if appointment_id is None or start is None or customer is None:
            return None  # no time, or a job whose customer could not be read: nobody to recover
        end = opt_dt(row.get("end")) or start
        found, contacts = person
        contact = Contact(contact_id=contact_id_for(self.source, None, provider_id=customer),
                          name=clip(found.get("name"), 200), email=clip(first_of(contacts, ("Email",)), 254),
                          phone=clip(first_of(contacts, PHONE_TYPES), 32))
        appointment = Appointment(
            source=self.source, appointment_id=appointment_id, appointment_type=APPOINTMENT_TYPE,
            calendar_id=clip(job.get("businessUnitId"), 200) or "default", location_id=clip(job.get("locationId"), 200),
            start=start, end=max(start, end), contact=contact,
            categories=[c for c in (clip(job.get("jobTypeId"), 60),) if c])
        changed = opt_dt(row.get("modifiedOn")) or opt_dt(row.get("createdOn")) or start
        status = self.status(row, job, reason)
        signal = None
        if status == "no_show" and reason in self.failed_access_reasons:
            signal = AttendanceSignal(kind=SignalKind.technician_report, at=changed, source=self.source,
                                      value="failed_access")
        return Snapshot(appointment=appointment, status=status, changed_at=changed, signal=signal)

    def _person(self, job: dict[str, Any], people: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]
                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        customer = str(job.get("customerId") or "")
        if not customer.isdigit():
            return {}, []
        if customer not in people:
            try:
                people[customer] = (self.client.customer(customer), self.client.customer_contacts(customer))
            except ProviderError as exc:  # the appointment stands without the details
                log.info("servicetitan_customer_unreadable", error=type(exc).__name__)
                people[customer] = ({}, [])
        return people[customer]
