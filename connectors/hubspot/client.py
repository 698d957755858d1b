"""HubSpot CRM client (integrations.md §6.2-6.3): meetings and `hs_meeting_outcome`, contact property writes
that obey the program's CRM write rules, notes, and tasks for owners. Base URL configurable.

HubSpot has no idempotency key. Property PATCHes are naturally idempotent; notes and tasks carry a marker
token derived from our idempotency key, and we search for it before creating (CONTAINS_TOKEN).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connectors.contract import PermanentProviderError
from connectors.http import JsonApi
from connectors.inbound import UNKNOWN_TYPE, contact_id_for, digest, opt_dt
from connectors.sync import Snapshot
from domain.models import Appointment, Contact
from policies.crm_rules import plan_write
from policies.schema import CrmRules

DEFAULT_BASE_URL = "https://api.hubapi.com"
MEETING_TO_CONTACT = 200  # associationTypeId used by Cal.com's HubSpot app (official table UNVERIFIED)
NOTE_TO_CONTACT = 202  # UNVERIFIED
TASK_TO_CONTACT = 204  # UNVERIFIED

# canonical outcome values -> hs_meeting_outcome internal values
OUTCOME_VALUES = {
    "no_show": "NO_SHOW", "noshow": "NO_SHOW", "completed": "COMPLETED", "attended": "COMPLETED",
    "canceled": "CANCELED", "cancelled": "CANCELED", "rescheduled": "RESCHEDULED", "scheduled": "SCHEDULED",
}
# canonical CRM field -> HubSpot contact property (custom properties the portal admin creates); `outcome` goes
# to the meeting's hs_meeting_outcome instead.
DEFAULT_CONTACT_PROPERTIES = {
    "missed_date": "noshow_missed_date",
    "recovery_status": "noshow_recovery_status",
    "next_appointment": "noshow_next_appointment",
    "owner_task": "noshow_owner_task",
    "customer_note": "noshow_customer_note",
    "risk_flag": "noshow_risk_flag",
    "source_campaign": "noshow_source_campaign",
}


def _marker(idempotency_key: str) -> str:
    return f"nsk{digest(idempotency_key)}"


def default_contact_resolver(contact_id: str) -> str | None:
    """Engine contact ids that came from HubSpot are `hubspot:<record id>`; others need a real resolver."""
    prefix = "hubspot:"
    if contact_id.startswith(prefix) and contact_id[len(prefix):].isdigit():
        return contact_id[len(prefix):]
    return None


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
    status = {"NO_SHOW": "no_show", "COMPLETED": "attended", "CANCELED": "cancelled",
              "RESCHEDULED": "rescheduled"}.get(str(p.get("hs_meeting_outcome") or "").upper(), "active")
    return Snapshot(appointment=appt, status=status, changed_at=changed)  # type: ignore[arg-type]


class HubSpotCrm:
    """contract.CrmConnector over HubSpot. Writes go through `policies.crm_rules.plan_write` with the
    program's CrmRules: a protected or non-writable field refuses the whole write (nothing half-written).
    `contact_resolver` maps the engine's contact id to a HubSpot contact record id; `appointment_id` is the
    HubSpot meeting id when the outcome should be written (pass "" to skip the meeting)."""

    def __init__(self, client: HubSpotClient, rules: CrmRules | None = None,
                 contact_resolver: Callable[[str], str | None] = default_contact_resolver,
                 contact_properties: Mapping[str, str] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client = client
        self.rules = rules or CrmRules()
        self.resolve = contact_resolver
        self.props = dict(contact_properties or DEFAULT_CONTACT_PROPERTIES)
        self.clock = clock

    def _record(self, contact_id: str) -> str:
        record = self.resolve(contact_id)
        if not record:
            raise PermanentProviderError("hubspot: no HubSpot record for this contact", code="unknown_contact")
        return record

    def read_fields(self, contact_id: str, appointment_id: str) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        contact = self.client.get_object("contacts", self._record(contact_id), list(self.props.values()))
        for field, prop in self.props.items():
            value = contact.get(prop)
            out[field] = None if value in (None, "") else str(value)
        if appointment_id:
            meeting = self.client.get_object("meetings", appointment_id, ["hs_meeting_outcome"])
            raw = meeting.get("hs_meeting_outcome")
            out["outcome"] = str(raw).lower() if raw else None
        return out

    def write_fields(self, contact_id: str, appointment_id: str, fields: dict[str, str | None],
                     idempotency_key: str) -> None:
        current = self.read_fields(contact_id, appointment_id)
        plan = plan_write(self.rules, current, fields)
        if plan.refused:
            raise PermanentProviderError("hubspot: refusing to write fields: " + ", ".join(sorted(plan.refused)),
                                         code="protected_field")
        contact_changes: dict[str, str | None] = {}
        for change in plan.changes:
            field = change.field.lower()
            if field == "outcome":
                if not appointment_id:
                    raise PermanentProviderError("hubspot: outcome needs the meeting id", code="no_meeting")
                self.client.set_meeting_outcome(appointment_id, change.after or "SCHEDULED")
            elif field in self.props:
                contact_changes[self.props[field]] = change.after
            else:
                raise PermanentProviderError(f"hubspot: no property mapped for {field}", code="unmapped_field")
        if contact_changes:
            self.client.update_object("contacts", self._record(contact_id), contact_changes)

    def _exists(self, object_type: str, body_property: str, marker: str) -> bool:
        found = self.client.search(object_type, [{"propertyName": body_property, "operator": "CONTAINS_TOKEN",
                                                  "value": marker}], [body_property], limit=1)
        return bool(found.get("total") or found.get("results"))

    def append_note(self, contact_id: str, note: str, idempotency_key: str) -> None:
        marker = _marker(idempotency_key)
        if self._exists("notes", "hs_note_body", marker):
            return
        self.client.create_object("notes", {"hs_timestamp": _iso(self.clock()),
                                            "hs_note_body": f"{note}\n\n[ref {marker}]"},
                                  self._record(contact_id), NOTE_TO_CONTACT)

    def create_task(self, owner_id: str | None, title: str, idempotency_key: str,
                    due_in: timedelta = timedelta(hours=24), contact_id: str | None = None) -> None:
        marker = _marker(idempotency_key)
        if self._exists("tasks", "hs_task_body", marker):
            return
        props: dict[str, Any] = {
            "hs_timestamp": _iso(self.clock() + due_in), "hs_task_subject": title[:250],
            "hs_task_body": f"Created by the no-show recovery engine. [ref {marker}]",
            "hs_task_status": "NOT_STARTED", "hs_task_priority": "MEDIUM", "hs_task_type": "TODO",
        }
        if owner_id:
            props["hubspot_owner_id"] = owner_id
        record = self.resolve(contact_id) if contact_id else None
        self.client.create_object("tasks", props, record, TASK_TO_CONTACT if record else None)
