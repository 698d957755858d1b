"""Salesforce appointments polled by `LastModifiedDate`: Field Service `ServiceAppointment` rows and calendar
`Event` rows that name a contact or lead, as reconcile snapshots.

Polling is the inbound path: the engine's reconcile Schedule calls `poll` every NOSHOW_RECONCILE_EVERY_MINUTES
with the cursor it stored (one `LastModifiedDate` per object, JSON), so nothing depends on a push arriving.
Change Data Capture is pulled over the gRPC Pub/Sub API and Outbound Messages carry no signature, so neither is
used (https://developer.salesforce.com/docs/platform/pub-sub-api/overview,
https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_om_outboundmessaging.htm).

ServiceAppointment statuses (https://developer.salesforce.com/docs/platform/object-reference/references/
standard-objects/object-serviceappointmentstatus.html): `None`, `Scheduled`, `Dispatched`, `In Progress` are
active, `Completed` is attended, `Canceled` cancelled, `Cannot Complete` a no-show (Salesforce has no no-show
status by default; orgs that add one list it in NOSHOW_SALESFORCE_NO_SHOW_STATUSES). Orgs rename statuses, so the
lists are settings. `Event` has no status field
(https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_event.htm):
a deleted event (queryAll, `IsDeleted`) is cancelled, and an outcome custom field, when configured, gives
no-show / attended. UNVERIFIED: that `Who.Email` / `Who.Phone` are readable through the polymorphic `Who` on
every org (they are fields of the Name object).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from connectors.inbound import clip, contact_id_for, dict_at, opt_dt
from connectors.salesforce.client import SalesforceClient, soql_datetime
from connectors.sync import Snapshot, SnapshotStatus, SyncPage
from domain.models import Appointment, Contact

SERVICE_APPOINTMENT = "ServiceAppointment"
EVENT = "Event"
SA_FIELDS = ["Id", "Status", "SchedStartTime", "SchedEndTime", "LastModifiedDate", "OwnerId", "ContactId",
             "Contact.Name", "Contact.Email", "Contact.MobilePhone", "Contact.Phone"]
EVENT_FIELDS = ["Id", "Subject", "StartDateTime", "EndDateTime", "LastModifiedDate", "OwnerId", "WhoId",
                "Who.Name", "Who.Email", "Who.Phone", "IsDeleted"]
NO_SHOW_WORDS = {"no_show", "no show", "noshow", "no-show", "cannot complete"}
ATTENDED_WORDS = {"attended", "completed", "showed", "show"}
CANCELLED_WORDS = {"canceled", "cancelled"}


def _word(value: Any) -> str:
    return str(value or "").strip().lower()


class SalesforceSource:
    """`objects`: which of ServiceAppointment / Event to poll (an org without Field Service has no
    ServiceAppointment). `outcome_field`: the Event custom field holding an outcome (e.g. `Outcome__c`)."""

    def __init__(self, client: SalesforceClient, objects: Iterable[str] = (SERVICE_APPOINTMENT, EVENT),
                 source: str = "salesforce", no_show_statuses: Iterable[str] = ("Cannot Complete",),
                 attended_statuses: Iterable[str] = ("Completed",), cancelled_statuses: Iterable[str] = ("Canceled",),
                 outcome_field: str | None = None, first_lookback: timedelta = timedelta(days=1)) -> None:
        self.client, self.source, self.first_lookback = client, source, first_lookback
        self.objects = [o for o in objects if o in (SERVICE_APPOINTMENT, EVENT)]
        self.status_of: dict[str, SnapshotStatus] = {
            **{_word(s): "cancelled" for s in cancelled_statuses}, **{_word(s): "attended" for s in attended_statuses},
            **{_word(s): "no_show" for s in no_show_statuses}}
        self.outcome_field = outcome_field

    def _cursors(self, cursor: str | None, now: datetime) -> dict[str, datetime]:
        try:
            stored = json.loads(cursor) if cursor else {}
        except ValueError:
            stored = {}
        stored = stored if isinstance(stored, dict) else {}
        default = now - self.first_lookback
        return {o: opt_dt(stored.get(o)) or default for o in self.objects}

    def poll(self, cursor: str | None, now: datetime) -> SyncPage:
        since = self._cursors(cursor, now)
        snaps: list[Snapshot] = []
        after: dict[str, str] = {}
        for obj in self.objects:
            rows = self._changed(obj, since[obj])
            found = [s for s in (self.snapshot(obj, r) for r in rows) if s is not None]
            snaps.extend(found)
            latest = max([opt_dt(r.get("LastModifiedDate")) or since[obj] for r in rows], default=since[obj])
            after[obj] = latest.isoformat()
        return SyncPage(snapshots=snaps, cursor=json.dumps(after, sort_keys=True))

    def _changed(self, obj: str, since: datetime) -> list[dict[str, Any]]:
        if obj == SERVICE_APPOINTMENT:
            return self.client.query(f"SELECT {', '.join(SA_FIELDS)} FROM ServiceAppointment WHERE LastModifiedDate "
                                     f"> {soql_datetime(since)} ORDER BY LastModifiedDate ASC")
        fields = EVENT_FIELDS + ([self.outcome_field] if self.outcome_field else [])
        return self.client.query(f"SELECT {', '.join(fields)} FROM Event WHERE WhoId != null AND LastModifiedDate "
                                 f"> {soql_datetime(since)} ORDER BY LastModifiedDate ASC", include_deleted=True)

    def snapshot(self, obj: str, row: dict[str, Any]) -> Snapshot | None:
        record_id = clip(row.get("Id"), 200)
        if not record_id:
            return None
        if obj == SERVICE_APPOINTMENT:
            start, end = opt_dt(row.get("SchedStartTime")), opt_dt(row.get("SchedEndTime"))
            person, person_id = dict_at(row, "Contact"), row.get("ContactId")
            status: SnapshotStatus = self.status_of.get(_word(row.get("Status")), "active")
            kind = "service_appointment"
        else:
            start, end = opt_dt(row.get("StartDateTime")), opt_dt(row.get("EndDateTime"))
            person, person_id = dict_at(row, "Who"), row.get("WhoId")
            status = "cancelled" if row.get("IsDeleted") is True else self._outcome(row)
            kind = "event"
        if start is None:
            return None  # not scheduled yet: no time to miss
        contact = Contact(contact_id=contact_id_for(self.source, None, provider_id=clip(person_id, 100),
                                                    fallback=record_id),
                          name=clip(person.get("Name"), 200), email=clip(person.get("Email"), 254),
                          phone=clip(person.get("MobilePhone") or person.get("Phone"), 32))
        appointment = Appointment(source=self.source, appointment_id=record_id, appointment_type=kind,
                                  calendar_id=obj, owner_id=clip(row.get("OwnerId"), 200), start=start,
                                  end=max(start, end or start), contact=contact)
        changed = opt_dt(row.get("LastModifiedDate")) or start
        return Snapshot(appointment=appointment, status=status, changed_at=changed)

    def _outcome(self, row: dict[str, Any]) -> SnapshotStatus:
        value = _word(row.get(self.outcome_field)) if self.outcome_field else ""
        if value in NO_SHOW_WORDS:
            return "no_show"
        if value in ATTENDED_WORDS:
            return "attended"
        if value in CANCELLED_WORDS:
            return "cancelled"
        return "active"
