"""A fake GoHighLevel location: the API v2 calendar, contact and location resources the connector uses.

From the OpenAPI files of https://github.com/GoHighLevel/highlevel-api-docs (`apps/calendars.json`,
`apps/contacts.json`, `apps/locations.json`):
- every call needs `Authorization: Bearer <token>` (401 `{"statusCode": 401, "message": "Invalid JWT"}`) and the
  `Version` its API family pins (`2021-04-15` calendars, `2021-07-28` contacts and locations; anything else is
  400 `{"statusCode": 400, "message": "version header is invalid"}`, UNVERIFIED wording);
- `GET /calendars/{id}/free-slots?startDate=<ms>&endDate=<ms>&timezone=`: at most 31 days (422 otherwise),
  `{"<date>": {"slots": [...]}, "traceId"}`;
- `POST /calendars/events/appointments` (`calendarId`, `locationId`, `contactId`, `startTime` required: 422 with
  `{"statusCode": 422, "message": [...], "error": "Unprocessable Entity"}`; a time no longer free is answered
  the same way here, UNVERIFIED), `PUT /calendars/events/appointments/{id}`, `GET` of the same (`{"appointment"}`),
  `GET /contacts/{id}/appointments` (`{"events": [...]}`);
- `GET /calendars/events?locationId=&startTime=<ms>&endTime=<ms>` with one of `calendarId` / `userId` / `groupId`
  (422 without; the location must be this one, 403 otherwise, UNVERIFIED wording) -> `{"events": [...]}`, the
  appointments starting in the window, deleted ones with `"deleted": true`
  (https://marketplace.gohighlevel.com/docs/ghl/calendars/get-calendar-events);
- `GET/PUT /contacts/{id}` (`customFields`), `GET/POST /contacts/{id}/notes` (201 `{"note"}`) and `/tasks`
  (`title`, `dueDate`, `completed` required; 201 `{"task"}`);
- `GET /locations/{id}` `{"location": {"id", "name", "timezone", ...}}`.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.inbound import opt_dt
from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest

CALENDARS, CONTACTS = "2021-04-15", "2021-07-28"


def ghl_error(status: int, message: str | list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"statusCode": status, "message": message}
    if status == 422:
        body["error"] = "Unprocessable Entity"
    return body


class FakeGoHighLevel(FakeServer):
    def __init__(self, token: str = "pit-token", location_id: str = "ve9EPM428h8vShlRW1KT",
                 slot_minutes: int = 30) -> None:
        self.token, self.location_id, self.slot_minutes = token, location_id, slot_minutes
        self.open_slots: dict[str, list[datetime]] = {}  # calendar id -> bookable starts
        self.appointments: dict[str, dict[str, Any]] = {}
        self.contacts: dict[str, dict[str, Any]] = {}
        self.notes: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, set[str]] = {}  # calendar group id -> its calendar ids
        self._n = itertools.count(1)
        super().__init__()

    def add_appointment(self, calendar_id: str, contact_id: str, start: datetime, status: str = "confirmed",
                        minutes: int = 30, user_id: str = "YlWd2wuCAZQzh2cH1fVZ") -> str:
        """An appointment made in GoHighLevel itself (whether its webhook arrived is up to the test). Its id is
        random: the case it starts outlives the fake on a shared Temporal server."""
        event_id = uuid.uuid4().hex[:20]
        now = datetime.now(UTC).isoformat()
        self.appointments[event_id] = {
            "id": event_id, "locationId": self.location_id, "calendarId": calendar_id, "contactId": contact_id,
            "assignedUserId": user_id, "appointmentStatus": status, "title": "Consultation",
            "startTime": start.isoformat(), "endTime": (start + timedelta(minutes=minutes)).isoformat(),
            "dateAdded": now, "dateUpdated": now, "deleted": False}
        return event_id

    def set_status(self, event_id: str, status: str) -> None:
        self.appointments[event_id].update(appointmentStatus=status, dateUpdated=datetime.now(UTC).isoformat())

    def add_contact(self, contact_id: str, **fields: Any) -> str:
        self.contacts[contact_id] = {"id": contact_id, "locationId": self.location_id, "customFields": [], **fields}
        return contact_id

    def _id(self) -> str:
        return f"ocQHyuzHvysMo5N5V{next(self._n):03d}"

    def setup_routes(self) -> None:
        self.route("GET", "/calendars/(?P<id>[^/]+)/free-slots", self._free)
        self.route("GET", "/calendars/events", self._events)
        self.route("POST", "/calendars/events/appointments", self._create)
        self.route("PUT", "/calendars/events/appointments/(?P<id>[^/]+)", self._update)
        self.route("GET", "/calendars/events/appointments/(?P<id>[^/]+)", self._get)
        self.route("GET", "/contacts/(?P<id>[^/]+)/appointments", self._contact_appointments)
        self.route("GET", "/contacts/(?P<id>[^/]+)/(?P<kind>notes|tasks)", self._items)
        self.route("POST", "/contacts/(?P<id>[^/]+)/(?P<kind>notes|tasks)", self._add_item)
        self.route("POST", "/contacts/", self._create_contact)
        self.route("GET", "/contacts/(?P<id>[^/]+)", self._contact)
        self.route("PUT", "/contacts/(?P<id>[^/]+)", self._update_contact)
        self.route("GET", "/locations/(?P<id>[^/]+)", self._location)

    def _refused(self, req: RecordedRequest, version: str) -> FakeResponse | None:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return FakeResponse(401, ghl_error(401, "Invalid JWT"))
        if req.headers.get("version") != version:
            return FakeResponse(400, ghl_error(400, "version header is invalid"))
        return None

    def _free(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req, CALENDARS)
        if refused:
            return refused
        try:
            start = datetime.fromtimestamp(int(req.query["startDate"]) / 1000, UTC)
            end = datetime.fromtimestamp(int(req.query["endDate"]) / 1000, UTC)
        except (KeyError, ValueError):
            return FakeResponse(422, ghl_error(422, ["startDate must be a number", "endDate must be a number"]))
        if end - start > timedelta(days=31):
            return FakeResponse(422, ghl_error(422, ["the range must be 31 days or less"]))
        body: dict[str, Any] = {}
        for at in sorted(self.open_slots.get(m["id"], [])):
            if start <= at < end:
                body.setdefault(at.date().isoformat(), {"slots": []})["slots"].append(at.isoformat())
        body["traceId"] = f"trace-{next(self._n)}"
        return FakeResponse(200, body)

    def _events(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req, CALENDARS)
        if refused:
            return refused
        q = req.query
        if not any(q.get(k) for k in ("calendarId", "userId", "groupId")):
            return FakeResponse(422, ghl_error(422, ["calendarId, userId or groupId is required"]))
        if q.get("locationId") != self.location_id:
            return FakeResponse(403, ghl_error(403, "The token does not have access to this location"))
        try:
            start = datetime.fromtimestamp(int(q["startTime"]) / 1000, UTC)
            end = datetime.fromtimestamp(int(q["endTime"]) / 1000, UTC)
        except (KeyError, ValueError):
            return FakeResponse(422, ghl_error(422, ["startTime must be a number", "endTime must be a number"]))
        calendars = ({q["calendarId"]} if q.get("calendarId") else self.groups.get(q.get("groupId", ""), set())
                     if q.get("groupId") else None)
        rows = []
        for row in self.appointments.values():
            at = opt_dt(row.get("startTime"))
            if at is None or not start <= at < end:
                continue
            if calendars is not None and row.get("calendarId") not in calendars:
                continue
            if calendars is None and row.get("assignedUserId") != q.get("userId"):
                continue
            rows.append({"deleted": False, **row})
        return FakeResponse(200, {"events": rows})

    def _create(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req, CALENDARS)
        if refused:
            return refused
        body = req.json() or {}
        missing = [f for f in ("calendarId", "locationId", "contactId", "startTime") if not body.get(f)]
        if missing:
            return FakeResponse(422, ghl_error(422, [f"{f} should not be empty" for f in missing]))
        start = opt_dt(body["startTime"])
        if start not in self.open_slots.get(body["calendarId"], []):
            return FakeResponse(422, ghl_error(422, ["The slot you have selected is no longer available"]))
        self.open_slots[body["calendarId"]].remove(start)
        event_id = self._id()
        self.appointments[event_id] = {"id": event_id, "appointmentStatus": "new", **body}
        return FakeResponse(200, self.appointments[event_id])

    def _update(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req, CALENDARS)
        if refused:
            return refused
        row = self.appointments.get(m["id"])
        if row is None:
            return FakeResponse(404, ghl_error(404, "Appointment not found"))
        row.update(req.json() or {})
        return FakeResponse(200, row)

    def _get(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req, CALENDARS)
        if refused:
            return refused
        row = self.appointments.get(m["id"])
        return FakeResponse(200, {"appointment": row}) if row else FakeResponse(404, ghl_error(404, "not found"))

    def _contact_appointments(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req, CONTACTS)
        if refused:
            return refused
        return FakeResponse(200, {"events": [a for a in self.appointments.values() if a["contactId"] == m["id"]]})

    def _known(self, contact_id: str) -> FakeResponse | None:
        return None if contact_id in self.contacts else FakeResponse(400, ghl_error(400, "Contact not found"))

    def _create_contact(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req, CONTACTS)
        if refused:
            return refused
        body = dict(req.json() or {})
        if body.pop("locationId", None) != self.location_id:
            return FakeResponse(422, ghl_error(422, ["locationId should not be empty"]))
        if not (body.get("email") or body.get("phone")):
            return FakeResponse(422, ghl_error(422, ["email or phone is required"]))
        contact_id = self.add_contact(self._id(), **body)
        return FakeResponse(201, {"contact": self.contacts[contact_id]})

    def _contact(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req, CONTACTS) or self._known(m["id"])
        return refused or FakeResponse(200, {"contact": self.contacts[m["id"]]})

    def _update_contact(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req, CONTACTS) or self._known(m["id"])
        if refused:
            return refused
        body = req.json() or {}
        stored = {c["id"]: c for c in self.contacts[m["id"]]["customFields"]}
        for item in body.pop("customFields", []) or []:
            stored[item["id"]] = {"id": item["id"], "value": item.get("field_value")}
        self.contacts[m["id"]].update({**body, "customFields": list(stored.values())})
        return FakeResponse(200, {"succeded": True, "contact": self.contacts[m["id"]]})

    def _items(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req, CONTACTS) or self._known(m["id"])
        if refused:
            return refused
        store = self.notes if m["kind"] == "notes" else self.tasks
        return FakeResponse(200, {m["kind"]: [i for i in store.values() if i["contactId"] == m["id"]]})

    def _add_item(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req, CONTACTS) or self._known(m["id"])
        if refused:
            return refused
        body = req.json() or {}
        required = ("body",) if m["kind"] == "notes" else ("title", "dueDate")
        missing = [f for f in required if not body.get(f)]
        if missing or (m["kind"] == "tasks" and "completed" not in body):
            return FakeResponse(422, ghl_error(422, [f"{f} should not be empty" for f in missing or ["completed"]]))
        item_id = self._id()
        store = self.notes if m["kind"] == "notes" else self.tasks
        store[item_id] = {"id": item_id, "contactId": m["id"], **body}
        return FakeResponse(201, {m["kind"][:-1]: store[item_id]})

    def _location(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req, CONTACTS)
        if refused:
            return refused
        if m["id"] != self.location_id:
            return FakeResponse(400, ghl_error(400, "Location not found"))
        return FakeResponse(200, {"location": {"id": self.location_id, "name": "Acme Clinic",
                                               "timezone": "America/Chicago"}})
