"""GoHighLevel (LeadConnector) API v2 client: calendar free slots, appointments, contact notes and tasks, and the
location, with the Bearer token (a Private Integration token or an OAuth location token) and the `Version`
header each API family pins.

References (GoHighLevel's public API documentation, https://highlevel.stoplight.io/docs/integrations and the
OpenAPI files of https://github.com/GoHighLevel/highlevel-api-docs):
- Base `https://services.leadconnectorhq.com`; `Authorization: Bearer <token>`; `Version: 2021-04-15` on the
  calendars API, `Version: 2021-07-28` on contacts and locations (the header enums of `apps/calendars.json`,
  `apps/contacts.json`, `apps/locations.json`).
- Free slots: `GET /calendars/{calendarId}/free-slots?startDate=<ms>&endDate=<ms>&timezone=` (at most 31 days a
  call) -> `{"<YYYY-MM-DD>": {"slots": ["<ISO start>", ...]}, "traceId"}`.
- Appointments: `POST /calendars/events/appointments` (`calendarId`, `locationId`, `contactId`, `startTime`
  required; `endTime`, `title`, `appointmentStatus`, `assignedUserId`, `toNotify`), `PUT
  /calendars/events/appointments/{eventId}` (the same fields, all optional; `appointmentStatus` new, confirmed,
  cancelled, showed, noshow, invalid), `GET /calendars/events/appointments/{eventId}`, `GET
  /contacts/{contactId}/appointments` (UNVERIFIED: the answer's list key, read as `events`).
- Calendar events: `GET /calendars/events?locationId=&startTime=<ms>&endTime=<ms>` with one of `calendarId`,
  `userId`, `groupId` -> `{"events": [{"id", "calendarId", "contactId", "assignedUserId", "appointmentStatus",
  "startTime", "endTime", "dateUpdated", "deleted", ...}]}`
  https://marketplace.gohighlevel.com/docs/ghl/calendars/get-calendar-events (no "updated since" filter and no
  paging; UNVERIFIED: the longest window it answers, read here 31 days a call as for free slots).
- Contact notes `POST /contacts/{contactId}/notes` (`body`, `userId`), tasks `POST /contacts/{contactId}/tasks`
  (`title`, `body`, `dueDate`, `completed`, `assignedTo`), each with its `GET` list; contact `GET/PUT
  /contacts/{contactId}` with `customFields: [{"id", "field_value"}]`; `POST /contacts/` (`locationId`,
  `firstName`, `lastName`, `email`, `phone`) -> `{"contact": {"id", ...}}`.
- Location `GET /locations/{locationId}`.
- Refusals: 400 / 401 / 404 `{"statusCode", "message"}`, 422 `{"statusCode", "message": [...], "error"}`;
  messages can echo input, so only the status reaches an exception. Rate limits: 100 requests per 10 s per
  location, 429 when exceeded (https://highlevel.stoplight.io/docs/integrations/a04191c0fabf9-rate-limits).
GoHighLevel has no idempotency key on creates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from connectors.http import segment
from connectors.inbound import opt_dt
from connectors.oauth import BearerJsonApi, TokenSource
from domain.models import Slot

BASE_URL = "https://services.leadconnectorhq.com"
CALENDARS_VERSION = "2021-04-15"
CONTACTS_VERSION = "2021-07-28"
MAX_RANGE = timedelta(days=31)


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


class GoHighLevelClient(BearerJsonApi):
    provider = "gohighlevel"
    rate_limit = (100.0, 10.0)

    def __init__(self, token: TokenSource, location_id: str, base_url: str = BASE_URL, timeout: float = 10.0,
                 http: httpx.Client | None = None) -> None:
        super().__init__(token, base_url, timeout, http)
        self.headers["Accept"] = "application/json"
        self.location_id = location_id

    def _cal(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(method, path, headers={"Version": CALENDARS_VERSION}, **kwargs)

    def _contacts(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(method, path, headers={"Version": CONTACTS_VERSION}, **kwargs)

    # ------------------------------------------------------------------ calendars
    def free_slots(self, calendar_id: str, start: datetime, end: datetime, time_zone: str = "UTC",
                   minutes: int = 30) -> list[Slot]:
        """The bookable starts in [start, end), each `minutes` long, across as many 31-day calls as it takes."""
        out: list[Slot] = []
        cursor = start
        while cursor < end:
            upto = min(end, cursor + MAX_RANGE)
            body = self._cal("GET", f"/calendars/{segment(calendar_id)}/free-slots",
                             params={"startDate": ms(cursor), "endDate": ms(upto), "timezone": time_zone})
            for day, value in (body.items() if isinstance(body, dict) else ()):
                if not isinstance(value, dict) or not _is_day(day):
                    continue  # `traceId` and anything else that is not a date
                for text in value.get("slots") or []:
                    at = opt_dt(text)
                    if at is not None and start <= at < end:
                        out.append(Slot(start=at.astimezone(UTC), end=at.astimezone(UTC) + timedelta(minutes=minutes),
                                        calendar_id=calendar_id))
            cursor = upto
        return sorted(out, key=lambda s: s.start)

    def calendar_events(self, start: datetime, end: datetime, calendar_id: str | None = None,
                        group_id: str | None = None) -> list[dict[str, Any]]:
        """The events starting in [start, end) of one calendar (or of a calendar group), 31 days a call."""
        if not (calendar_id or group_id):
            raise ValueError("GoHighLevel lists events of a calendar or a group")
        scope = {"calendarId": calendar_id} if calendar_id else {"groupId": group_id}
        out: list[dict[str, Any]] = []
        cursor = start
        while cursor < end:
            upto = min(end, cursor + MAX_RANGE)
            body = self._cal("GET", "/calendars/events", params={"locationId": self.location_id, **scope,
                                                                  "startTime": ms(cursor), "endTime": ms(upto)})
            rows = body.get("events") if isinstance(body, dict) else None
            out += [r for r in rows or [] if isinstance(r, dict)]
            cursor = upto
        return out

    def create_appointment(self, fields: dict[str, Any]) -> dict[str, Any]:
        body = self._cal("POST", "/calendars/events/appointments", json_body={"locationId": self.location_id,
                                                                                **fields},
                         ambiguous_after_send=True)
        return body if isinstance(body, dict) else {}

    def update_appointment(self, event_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        body = self._cal("PUT", f"/calendars/events/appointments/{segment(event_id)}", json_body=fields)
        return body if isinstance(body, dict) else {}

    def appointment(self, event_id: str) -> dict[str, Any]:
        body = self._cal("GET", f"/calendars/events/appointments/{segment(event_id)}")
        found = (body.get("appointment") or body.get("event")) if isinstance(body, dict) else None
        return found if isinstance(found, dict) else {}

    def contact_appointments(self, contact_id: str) -> list[dict[str, Any]]:
        body = self._contacts("GET", f"/contacts/{segment(contact_id)}/appointments")
        rows = body.get("events") if isinstance(body, dict) else None
        return [r for r in rows or [] if isinstance(r, dict)]

    # ------------------------------------------------------------------ contacts
    def contact(self, contact_id: str) -> dict[str, Any]:
        body = self._contacts("GET", f"/contacts/{segment(contact_id)}")
        found = body.get("contact") if isinstance(body, dict) else None
        return found if isinstance(found, dict) else {}

    def create_contact(self, fields: dict[str, Any]) -> str:
        body = self._contacts("POST", "/contacts/", json_body={"locationId": self.location_id, **fields},
                              ambiguous_after_send=True)
        made = body.get("contact") if isinstance(body, dict) else None
        return str(made.get("id") or "") if isinstance(made, dict) else ""

    def update_contact(self, contact_id: str, fields: dict[str, Any]) -> None:
        self._contacts("PUT", f"/contacts/{segment(contact_id)}", json_body=fields)

    def items(self, contact_id: str, kind: str) -> list[dict[str, Any]]:
        """The contact's `notes` or `tasks`."""
        body = self._contacts("GET", f"/contacts/{segment(contact_id)}/{kind}")
        rows = body.get(kind) if isinstance(body, dict) else None
        return [r for r in rows or [] if isinstance(r, dict)]

    def add_item(self, contact_id: str, kind: str, fields: dict[str, Any]) -> str:
        body = self._contacts("POST", f"/contacts/{segment(contact_id)}/{kind}", json_body=fields,
                              ambiguous_after_send=True)
        made = body.get(kind[:-1]) if isinstance(body, dict) else None
        return str(made.get("id") or "") if isinstance(made, dict) else ""

    def location(self) -> dict[str, Any]:
        body = self._contacts("GET", f"/locations/{segment(self.location_id)}")
        found = body.get("location") if isinstance(body, dict) else None
        return found if isinstance(found, dict) else {}


def _is_day(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
