"""contract.CrmConnector over HubSpot, and the meeting details a HubSpot webhook lacks.

HubSpot references: meetings https://developers.hubspot.com/docs/api/crm/meetings, tasks
https://developers.hubspot.com/docs/api/crm/tasks.

Writes go through `policies.crm_rules.plan_write` again here, with the union of every program's rules: a
protected field is refused before anything is sent, and a refused write sends nothing (nothing half-written).
Fields map to contact properties the portal admin creates (`noshow_*`); `outcome` goes to the meeting's
`hs_meeting_outcome` when the appointment is a HubSpot meeting, else to the contact's `noshow_last_outcome`.

HubSpot has no idempotency key. Property PATCHes are naturally idempotent; notes, tasks and the meetings we
create carry a marker token derived from our idempotency key, and we search for it before creating
(CONTAINS_TOKEN).

Engine contact ids are opaque (`calcom:ak-...`); `HubSpotContactResolver` finds the HubSpot record by email (or
creates it from the local contact) and remembers the mapping in the local database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from connectors.contract import PermanentProviderError
from connectors.hubspot.client import (
    NOTE_TO_CONTACT,
    OUTCOME_VALUES,
    TASK_TO_CONTACT,
    HubSpotClient,
)
from connectors.hubspot.contacts import HubSpotContacts
from connectors.inbound import UNKNOWN_TYPE, clip, contact_id_for, digest, opt_dt
from connectors.local.db import LocalDb
from domain.models import Appointment, Contact
from policies.crm_rules import plan_write
from policies.schema import CrmRules

log = structlog.get_logger(__name__)

# canonical CRM field -> HubSpot contact property (custom properties the portal admin creates)
DEFAULT_CONTACT_PROPERTIES = {
    "missed_date": "noshow_missed_date",
    "recovery_status": "noshow_recovery_status",
    "next_appointment": "noshow_next_appointment",
    "owner_task": "noshow_owner_task",
    "customer_note": "noshow_customer_note",
    "risk_flag": "noshow_risk_flag",
    "source_campaign": "noshow_source_campaign",
}
OUTCOME_PROPERTY = "noshow_last_outcome"  # the outcome of an appointment that is not a HubSpot meeting
# hs_timezone is not read: HubSpot's values are not IANA zone names
CONTACT_READ = ["email", "firstname", "lastname", "phone", "mobilephone"]
MEETING_READ = ["hs_meeting_title", "hs_meeting_start_time", "hs_meeting_end_time", "hs_meeting_outcome",
                "hubspot_owner_id"]


def _marker(idempotency_key: str) -> str:
    return f"nsk{digest(idempotency_key)}"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def default_contact_resolver(contact_id: str) -> str | None:
    """Engine contact ids that came from HubSpot are `hubspot:<record id>`; others need HubSpotContactResolver."""
    prefix = "hubspot:"
    if contact_id.startswith(prefix) and contact_id[len(prefix):].isdigit():
        return contact_id[len(prefix):]
    return None


def is_meeting_id(appointment_id: str) -> bool:
    """HubSpot object ids are numbers; other sources' appointment ids are not (uids, URIs, event ids)."""
    return appointment_id.isdigit()


def union_rules(rules: list[CrmRules]) -> CrmRules:
    """One rule set for every program: a field writable anywhere, protected if protected anywhere (protection
    wins in plan_write), so the adapter is a second line behind each program's own plan."""
    if not rules:
        return CrmRules()

    def merged(name: str) -> list[str]:
        return sorted({f for r in rules for f in getattr(r, name)})

    return CrmRules(writable_fields=merged("writable_fields"), protected_fields=merged("protected_fields"),
                    note_fields=merged("note_fields"), clearable_fields=merged("clearable_fields"),
                    notes_append_only=any(r.notes_append_only for r in rules))


class HubSpotContactResolver:
    """engine contact id -> HubSpot contact record id. `hubspot:<id>` is the record itself; otherwise the local
    contact's email is searched, and with `create` a missing contact is created from the local one."""

    SCHEMA = ("CREATE TABLE IF NOT EXISTS hubspot_contacts (contact_id TEXT PRIMARY KEY, record_id TEXT NOT NULL, "
              "at TEXT NOT NULL);")

    def __init__(self, client: HubSpotClient, contact_lookup: Callable[[str], Contact | None],
                 db: LocalDb | None = None, create: bool = True) -> None:
        self.client = client
        self.contact_lookup = contact_lookup
        self.db = db
        self.create = create
        self._cache: dict[str, str] = {}
        if db is not None:
            db.script(self.SCHEMA)

    def _remembered(self, contact_id: str) -> str | None:
        if contact_id in self._cache or self.db is None:
            return self._cache.get(contact_id)
        with self.db.connect() as conn:
            row = conn.execute("SELECT record_id FROM hubspot_contacts WHERE contact_id = ?", (contact_id,)).fetchone()
        return str(row[0]) if row else None

    def _remember(self, contact_id: str, record_id: str) -> None:
        self._cache[contact_id] = record_id
        if self.db is not None:
            with self.db.connect() as conn:
                conn.execute("INSERT OR REPLACE INTO hubspot_contacts (contact_id, record_id, at) VALUES (?, ?, ?)",
                             (contact_id, record_id, datetime.now(UTC).isoformat()))

    def __call__(self, contact_id: str) -> str | None:
        direct = default_contact_resolver(contact_id)
        if direct:
            return direct
        known = self._remembered(contact_id)
        if known:
            return known
        contact = self.contact_lookup(contact_id)
        if contact is None or not contact.email:
            return None  # a placeholder contact: nothing to find it by
        record = self.client.find_one("contacts", "email", contact.email, ["email"])
        if record is None and self.create:
            first, _, last = (contact.name or "").partition(" ")
            props = {"email": contact.email, "firstname": first or None, "lastname": last or None,
                     "phone": contact.phone}
            record = self.client.create_object("contacts", {k: v for k, v in props.items() if v}) or None
        if record:
            self._remember(contact_id, record)
        return record


class HubSpotCrm:
    """contract.CrmConnector over HubSpot. `rules`: the CRM write rules (union_rules of every program).
    `default_owner` (NOSHOW_HUBSPOT_OWNER_ID) owns tasks whose owner is not a HubSpot owner id."""

    def __init__(self, client: HubSpotClient, rules: CrmRules | None = None,
                 contact_resolver: Callable[[str], str | None] = default_contact_resolver,
                 contact_properties: Mapping[str, str] | None = None, default_owner: str | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client = client
        self.rules = rules or CrmRules()
        self.resolve = contact_resolver
        self.props = dict(contact_properties or DEFAULT_CONTACT_PROPERTIES)
        self.default_owner = default_owner
        self.clock = clock

    def _record(self, contact_id: str) -> str:
        record = self.resolve(contact_id)
        if not record:
            raise PermanentProviderError("hubspot: no HubSpot record for this contact", code="unknown_contact")
        return record

    def read_fields(self, contact_id: str, appointment_id: str) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        contact = self.client.get_object("contacts", self._record(contact_id),
                                         [*self.props.values(), OUTCOME_PROPERTY])
        for field, prop in self.props.items():
            value = contact.get(prop)
            out[field] = None if value in (None, "") else str(value)
        if appointment_id and is_meeting_id(appointment_id):
            meeting = self.client.get_object("meetings", appointment_id, ["hs_meeting_outcome"])
            raw = meeting.get("hs_meeting_outcome")
        else:
            raw = contact.get(OUTCOME_PROPERTY)
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
            if field == "outcome" and appointment_id and is_meeting_id(appointment_id):
                self.client.set_meeting_outcome(appointment_id, change.after or "SCHEDULED")
            elif field == "outcome":
                value = change.after or ""
                contact_changes[OUTCOME_PROPERTY] = OUTCOME_VALUES.get(value.lower(), value.upper()) or None
            elif field in self.props:
                contact_changes[self.props[field]] = change.after
            else:
                log.info("hubspot_field_unmapped", field=field)  # kept in the local audit copy only
        if contact_changes:
            self.client.update_object("contacts", self._record(contact_id), contact_changes)

    def _exists(self, object_type: str, body_property: str, marker: str) -> str | None:
        """The id of the object carrying `marker` (an earlier attempt of the same write), or None."""
        found = self.client.search(object_type, [{"propertyName": body_property, "operator": "CONTAINS_TOKEN",
                                                  "value": marker}], [body_property], limit=1)
        results = [r for r in found.get("results") or [] if isinstance(r, dict) and r.get("id")]
        return str(results[0]["id"]) if results else None

    def append_note(self, contact_id: str, note: str, idempotency_key: str) -> None:
        record = self._record(contact_id)
        marker = _marker(idempotency_key)
        if self._exists("notes", "hs_note_body", marker):
            return
        self.client.create_object("notes", {"hs_timestamp": _iso(self.clock()),
                                            "hs_note_body": f"{note}\n\n[ref {marker}]"}, record, NOTE_TO_CONTACT)

    def _owner(self, owner_id: str | None) -> str | None:
        return owner_id if owner_id and owner_id.isdigit() else self.default_owner

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
        owner = self._owner(owner_id)
        if owner:
            props["hubspot_owner_id"] = owner
        record = self.resolve(contact_id) if contact_id else None
        self.client.create_object("tasks", props, record, TASK_TO_CONTACT if record else None)

    def record_booking(self, contact_id: str, start: datetime, end: datetime, title: str,
                       idempotency_key: str, owner_id: str | None = None) -> str | None:
        """The rebooked appointment as a SCHEDULED meeting on the contact; None when the contact is unknown."""
        record = self.resolve(contact_id)
        if not record:
            return None
        marker = _marker(idempotency_key)
        found = self._exists("meetings", "hs_meeting_body", marker)
        if found:
            return found
        return self.client.create_meeting(record, title[:250], start, end, owner_id=self._owner(owner_id),
                                          body=f"Booked by the no-show recovery engine. [ref {marker}]")


class HubSpotMeetings:
    """What a meeting webhook does not carry: the meeting's times and owner and its contact's details."""

    def __init__(self, client: HubSpotClient, source: str = "hubspot") -> None:
        self.client = client
        self.source = source

    def appointment(self, meeting_id: str) -> Appointment | None:
        """The meeting as an appointment with its one associated contact (the same rules as the reconcile poll),
        or None when it has no times."""
        body = self.client.get_object_with_associations("meetings", meeting_id, MEETING_READ, ["contacts"])
        p = body.get("properties") or {}
        start, end = opt_dt(p.get("hs_meeting_start_time")), opt_dt(p.get("hs_meeting_end_time"))
        if start is None:
            return None
        found = HubSpotContacts(self.client, self.source).for_meeting(meeting_id)
        if isinstance(found, Contact):
            contact = found
        else:
            # no one to write to: the case starts without contact details and asks a human (the reason is kept)
            log.info("hubspot_meeting_without_contact", reason=found)
            contact = Contact(contact_id=contact_id_for(self.source, None, fallback=f"meeting-{meeting_id}"))
        return Appointment(source=self.source, appointment_id=meeting_id, appointment_type=UNKNOWN_TYPE,
                           owner_id=clip(p.get("hubspot_owner_id"), 200), start=start,
                           end=max(start, end or start), contact=contact)
