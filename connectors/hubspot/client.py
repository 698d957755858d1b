"""HubSpot CRM client: CRM objects (read, search, create, update), meetings and `hs_meeting_outcome`, and the
meeting search reconciliation uses (https://developers.hubspot.com/docs/api/crm/meetings,
https://developers.hubspot.com/docs/api/crm/tasks). Base URL configurable. The CrmConnector adapter
(write rules, notes, tasks, contact resolution) is connectors/hubspot/crm.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.http import JsonApi
from connectors.inbound import UNKNOWN_TYPE, contact_id_for, opt_dt
from connectors.sync import Snapshot, SnapshotStatus
from domain.models import Appointment, Contact

DEFAULT_BASE_URL = "https://api.hubapi.com"
# HUBSPOT_DEFINED associationTypeIds, as listed by HubSpot's associations reference
# (https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide) and its official client libraries
MEETING_TO_CONTACT = 200
NOTE_TO_CONTACT = 202
TASK_TO_CONTACT = 204

# canonical outcome values -> hs_meeting_outcome internal values
OUTCOME_VALUES = {
    "no_show": "NO_SHOW", "noshow": "NO_SHOW", "completed": "COMPLETED", "attended": "COMPLETED",
    "canceled": "CANCELED", "cancelled": "CANCELED", "rescheduled": "RESCHEDULED", "scheduled": "SCHEDULED",
}
# hs_meeting_outcome -> snapshot status (anything else, SCHEDULED included, is an active meeting)
_OUTCOME_STATUS: dict[str, SnapshotStatus] = {
    "NO_SHOW": "no_show", "COMPLETED": "attended", "CANCELED": "cancelled", "RESCHEDULED": "rescheduled",
}


class HubSpotClient(JsonApi):
    """`access_token` = private-app token or OAuth token with crm.objects.contacts.read/write
    (+ meetings/tasks scopes). Env NOSHOW_HUBSPOT_ACCESS_TOKEN."""

    provider = "hubspot"

    def __init__(self, access_token: str, base_url: str = DEFAULT_BASE_URL, timeout: float = 10.0,
                 http: httpx.Client | None = None) -> None:
        super().__init__(base_url, {"Authorization": f"Bearer {access_token}"}, timeout, http)

    def get_object(self, object_type: str, object_id: str, properties: list[str]) -> dict[str, Any]:
        body = self.call("GET", f"/crm/v3/objects/{object_type}/{object_id}",
                         params={"properties": ",".join(properties)}) or {}
        return dict(body.get("properties") or {})

    def get_object_with_associations(self, object_type: str, object_id: str, properties: list[str],
                                     associations: list[str]) -> dict[str, Any]:
        """The whole object with `associations` ({type: {"results": [{"id", "type"}]}}): the v3 objects API's
        `associations` parameter (https://developers.hubspot.com/docs/api/crm/meetings)."""
        body = self.call("GET", f"/crm/v3/objects/{object_type}/{object_id}", params={
            "properties": ",".join(properties), "associations": ",".join(associations)}) or {}
        return dict(body)

    def find_one(self, object_type: str, property_name: str, value: str, properties: list[str]) -> str | None:
        """The id of the first object whose property equals `value` (search with EQ), or None."""
        found = self.search(object_type, [{"propertyName": property_name, "operator": "EQ", "value": value}],
                            properties, limit=1)
        results = found.get("results") or []
        return str(results[0]["id"]) if results and results[0].get("id") else None

    def update_object(self, object_type: str, object_id: str, properties: Mapping[str, str | None]) -> None:
        self.call("PATCH", f"/crm/v3/objects/{object_type}/{object_id}",
                  json_body={"properties": {k: ("" if v is None else v) for k, v in properties.items()}})

    def create_object(self, object_type: str, properties: Mapping[str, Any], to_id: str | None = None,
                      association_type: int | None = None) -> str:
        body: dict[str, Any] = {"properties": dict(properties)}
        if to_id and association_type:
            body["associations"] = [{"to": {"id": to_id}, "types": [
                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": association_type}]}]
        created = self.call("POST", f"/crm/v3/objects/{object_type}", json_body=body) or {}
        return str(created.get("id") or "")

    def search(self, object_type: str, filters: list[dict[str, Any]], properties: list[str], limit: int = 100,
               after: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"filterGroups": [{"filters": filters}], "properties": properties, "limit": limit}
        if after:
            body["after"] = after
        return dict(self.call("POST", f"/crm/v3/objects/{object_type}/search", json_body=body) or {})

    # ------------------------------------------------------------------ meetings
    def create_meeting(self, contact_record_id: str, title: str, start: datetime, end: datetime,
                       owner_id: str | None = None, body: str | None = None) -> str:
        props = {"hs_timestamp": _iso(start), "hs_meeting_title": title, "hs_meeting_start_time": _iso(start),
                 "hs_meeting_end_time": _iso(end), "hs_meeting_outcome": "SCHEDULED"}
        if owner_id:
            props["hubspot_owner_id"] = owner_id
        if body:
            props["hs_meeting_body"] = body
        return self.create_object("meetings", props, contact_record_id, MEETING_TO_CONTACT)

    def set_meeting_outcome(self, meeting_id: str, outcome: str) -> None:
        value = OUTCOME_VALUES.get(outcome.lower(), outcome.upper())
        self.update_object("meetings", meeting_id, {"hs_meeting_outcome": value})

    def changed_meetings(self, since: datetime, source: str = "hubspot", limit: int = 100
                         ) -> list[Snapshot]:
        """Meetings modified after `since`, as snapshots (for reconciliation)."""
        props = ["hs_meeting_title", "hs_meeting_start_time", "hs_meeting_end_time", "hs_meeting_outcome",
                 "hubspot_owner_id", "hs_lastmodifieddate"]
        snaps: list[Snapshot] = []
        after: str | None = None
        while True:
            page = self.search("meetings", [{"propertyName": "hs_lastmodifieddate", "operator": "GT",
                                             "value": str(int(since.timestamp() * 1000))}], props, limit, after)
            for item in page.get("results") or []:
                snap = _meeting_snapshot(item, source)
                if snap is not None:
                    snaps.append(snap)
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return snaps


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _meeting_snapshot(item: dict[str, Any], source: str) -> Snapshot | None:
    p = item.get("properties") or {}
    start, end = opt_dt(p.get("hs_meeting_start_time")), opt_dt(p.get("hs_meeting_end_time"))
    meeting_id = str(item.get("id") or "")
    if not meeting_id or start is None:
        return None
    changed = opt_dt(p.get("hs_lastmodifieddate")) or opt_dt(item.get("updatedAt")) or start
    appt = Appointment(source=source, appointment_id=meeting_id, appointment_type=UNKNOWN_TYPE,
                       owner_id=p.get("hubspot_owner_id") or None, start=start, end=max(start, end or start),
                       contact=Contact(contact_id=contact_id_for(source, None, fallback=f"meeting-{meeting_id}")))
    status = _OUTCOME_STATUS.get(str(p.get("hs_meeting_outcome") or "").upper(), "active")
    return Snapshot(appointment=appt, status=status, changed_at=changed)
