"""A fake Acuity Scheduling account: the API v1 resources the connector uses, and signed webhook pings.

From https://developers.acuityscheduling.com (and the official Node SDK, npm `acuityscheduling`):
- every call needs HTTP Basic `<user id>:<API key>` (401 `{"status_code": 401, "error": "unauthorized",
  "message": ...}`, UNVERIFIED wording);
- `GET /availability/dates?month=YYYY-MM&appointmentTypeID=` -> `[{"date"}]`, the days with a free time, and
  `GET /availability/times?date=&appointmentTypeID=[&calendarID=]` -> `[{"time", "slotsAvailable"}]`, times with a
  `-0500`-style offset (days in the account's time zone, here America/New_York; 400 `{"error": "invalid_date"}` /
  `{"error": "required_appointment_type_id"}`);
- `POST /appointments` (`appointmentTypeID`, `datetime`, `firstName`, `lastName`, `email` required: 400
  `{"error": "required_first_name"}` ...; a time no longer available: 400 `{"error": "not_available"}`,
  UNVERIFIED code) -> the appointment object;
- `GET /appointments/{id}` (404 `{"error": "not_found"}`), `GET /appointments?minDate=&maxDate=&showall=&email=`;
- `PUT /appointments/{id}/cancel?admin=true&noEmail=true` with `{"cancelNote", "noShow"}` -> the appointment,
  `canceled: true` (a client cancel of a canceled one: 400 `{"error": "cancel_not_allowed"}`);
- `GET /me` -> the account.
Webhook pings are form-encoded `action=&id=&calendarID=&appointmentTypeID=`, signed `X-Acuity-Signature` = base64
HMAC-SHA256 of the body under the API key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from connectors.inbound import opt_dt
from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest

ZONE = ZoneInfo("America/New_York")


def acuity_error(status: int, error: str, message: str = "refused") -> dict[str, Any]:
    return {"status_code": status, "error": error, "message": message}


def acuity_signature(api_key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(api_key.encode(), body, hashlib.sha256).digest()).decode()


def ping(action: str, appointment: dict[str, Any]) -> bytes:
    return urlencode({"action": action, "id": appointment["id"], "calendarID": appointment["calendarID"],
                      "appointmentTypeID": appointment["appointmentTypeID"]}).encode()


def acuity_time(at: datetime) -> str:
    return at.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M:%S%z")


class FakeAcuity(FakeServer):
    def __init__(self, user_id: str = "11145481", api_key: str = "abc123apikey", minutes: int = 30) -> None:
        self.user_id, self.api_key, self.minutes = user_id, api_key, minutes
        self.open_times: dict[str, list[datetime]] = {}  # appointment type id -> bookable starts
        self.appointments: dict[str, dict[str, Any]] = {}
        # random ids: the case an appointment starts outlives the fake on a shared Temporal server
        self._n = itertools.count(random.randint(10**6, 10**9))
        super().__init__()

    def add_appointment(self, type_id: str, start: datetime, email: str = "bob.mctest@example.com",
                        calendar_id: str = "27238", **fields: Any) -> dict[str, Any]:
        """An appointment made in Acuity itself (whether its webhook arrived is up to the test)."""
        appointment_id = str(next(self._n))
        row = {"id": int(appointment_id), "firstName": "Bob", "lastName": "McTest", "phone": "+15551230001",
               "email": email, "datetime": acuity_time(start), "duration": str(self.minutes),
               "type": "Regular Visit", "appointmentTypeID": int(type_id), "calendarID": int(calendar_id),
               "calendar": "My Calendar", "price": "10.00", "canceled": False, "timezone": "America/New_York",
               "labels": None, **fields}
        self.appointments[appointment_id] = row
        return row

    def setup_routes(self) -> None:
        self.route("GET", "/me", self._me)
        self.route("GET", "/availability/dates", self._dates)
        self.route("GET", "/availability/times", self._times)
        self.route("POST", "/appointments", self._create)
        self.route("GET", "/appointments", self._list)
        self.route("GET", "/appointments/(?P<id>[0-9]+)", self._get)
        self.route("PUT", "/appointments/(?P<id>[0-9]+)/cancel", self._cancel)

    def _refused(self, req: RecordedRequest) -> FakeResponse | None:
        token = base64.b64encode(f"{self.user_id}:{self.api_key}".encode()).decode()
        if req.headers.get("authorization") != f"Basic {token}":
            return FakeResponse(401, acuity_error(401, "unauthorized", "Unauthorized"))
        return None

    def _me(self, req: RecordedRequest, m: Any) -> FakeResponse:
        return self._refused(req) or FakeResponse(200, {"id": int(self.user_id), "timezone": "America/New_York",
                                                        "name": "Example Studio"})

    def _dates(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        kind, month = req.query.get("appointmentTypeID", ""), req.query.get("month", "")
        if not kind:
            return FakeResponse(400, acuity_error(400, "required_appointment_type_id"))
        if len(month) != 7 or month[4] != "-":
            return FakeResponse(400, acuity_error(400, "invalid_month"))
        days = sorted({at.astimezone(ZONE).date().isoformat() for at in self.open_times.get(kind, [])})
        return FakeResponse(200, [{"date": d} for d in days if d.startswith(month)])

    def _times(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        kind = req.query.get("appointmentTypeID", "")
        if not kind:
            return FakeResponse(400, acuity_error(400, "required_appointment_type_id"))
        try:
            day = datetime.strptime(req.query.get("date", ""), "%Y-%m-%d").date()
        except ValueError:
            return FakeResponse(400, acuity_error(400, "invalid_date"))
        # the account's days are its own time zone's
        return FakeResponse(200, [{"time": acuity_time(at), "slotsAvailable": 1}
                                  for at in sorted(self.open_times.get(kind, [])) if at.astimezone(ZONE).date() == day])

    def _create(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        body = req.json() or {}
        for field in ("appointmentTypeID", "datetime", "firstName", "lastName", "email"):
            if not body.get(field):
                return FakeResponse(400, acuity_error(400, f"required_{field.lower()}"))
        kind, start = str(body["appointmentTypeID"]), opt_dt(body["datetime"])
        if req.query.get("admin") != "true" and start not in self.open_times.get(kind, []):
            return FakeResponse(400, acuity_error(400, "not_available", "The time is not available."))
        if start in self.open_times.get(kind, []):
            self.open_times[kind].remove(start)
        row = self.add_appointment(kind, start or datetime.now(UTC), email=body["email"],
                                   calendar_id=str(body.get("calendarID") or "27238"),
                                   firstName=body["firstName"], lastName=body["lastName"],
                                   phone=body.get("phone") or "", timezone=body.get("timezone") or "America/New_York")
        return FakeResponse(200, row)

    def _list(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        q = req.query
        low = datetime.strptime(q.get("minDate", "1970-01-01"), "%Y-%m-%d").date()
        high = datetime.strptime(q.get("maxDate", "2999-12-31"), "%Y-%m-%d").date()
        rows = []
        for row in self.appointments.values():
            at = opt_dt(row["datetime"])
            if at is None or not low <= at.astimezone(ZONE).date() <= high:
                continue
            if row["canceled"] and q.get("showall") != "true" and q.get("canceled") != "true":
                continue
            if q.get("canceled") == "true" and not row["canceled"]:
                continue
            if q.get("email") and row["email"] != q["email"]:
                continue
            rows.append(row)
        rows.sort(key=lambda r: r["datetime"])
        return FakeResponse(200, rows[: int(q.get("max", "100"))])

    def _get(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        row = self.appointments.get(m["id"])
        return FakeResponse(200, row) if row else FakeResponse(404, acuity_error(404, "not_found"))

    def _cancel(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        row = self.appointments.get(m["id"])
        if row is None:
            return FakeResponse(404, acuity_error(404, "not_found"))
        admin = req.query.get("admin") == "true"
        if row["canceled"] and not admin:
            return FakeResponse(400, acuity_error(400, "cancel_not_allowed", "Clients are not allowed to cancel."))
        body = req.json() or {}
        row["canceled"] = True
        if admin:
            row["noShow"] = bool(body.get("noShow", row.get("noShow", False)))
        else:
            row.setdefault("noShow", False)
        return FakeResponse(200, row)

    def free_after(self, type_id: str, start: datetime, count: int = 4) -> list[datetime]:
        """Open `count` bookable times from `start` every `minutes`."""
        times = [start + timedelta(minutes=self.minutes * i) for i in range(count)]
        self.open_times.setdefault(type_id, []).extend(times)
        return times
