"""A fake Mindbody site: the Public API v6 resources the connector uses, from Mindbody's published v6 Swagger
document (https://developers.mindbodyonline.com/PublicDocumentation/V6):
- every call needs `Api-Key` and `SiteId` (401 otherwise); business-mode calls need `Authorization` with a user
  token from `POST /public/v6/usertoken/issue` (`{"Username", "Password"}` -> `{"TokenType": "Bearer",
  "AccessToken", "User"}`); a revoked or expired token is answered 401;
- `GET /appointment/staffappointments`, `GET /appointment/bookableitems` (`request.sessionTypeIds` required:
  400 without), `POST /appointment/addappointment` (400 when the time is not bookable, UNVERIFIED code),
  `POST /appointment/updateappointment` (`Execute` `Cancel` sets the status Cancelled, UNVERIFIED value);
- `GET /class/classes`, `GET /class/classvisits` (`request.classID`, `request.lastModifiedDate`),
  `GET /client/clients` (`request.clientIDs` repeated), `POST /client/addclient` (`FirstName`, `LastName`
  required);
- lists page with `request.limit` / `request.offset` and answer `PaginationResponse`;
- refusals are `{"Error": {"Message", "Code"}}` (UNVERIFIED shape).
Times are the site's local time without an offset (the site zone here is UTC unless given).
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest

PREFIX = "/public/v6"


def mb_error(status: int, code: str, message: str = "refused") -> dict[str, Any]:
    return {"Error": {"Message": message, "Code": code}}


class FakeMindbody(FakeServer):
    def __init__(self, api_key: str = "mb-api-key", site_id: str = "-99", username: str = "owner",
                 password: str = "owner-pass", time_zone: str = "UTC") -> None:
        self.api_key, self.site_id, self.username, self.password = api_key, site_id, username, password
        self.zone = ZoneInfo(time_zone)
        self.tokens: set[str] = set()
        self.appointments: dict[int, dict[str, Any]] = {}
        self.availability: list[dict[str, Any]] = []  # bookable item windows
        self.classes: dict[int, dict[str, Any]] = {}
        self.visits: dict[int, dict[str, Any]] = {}
        self.clients: dict[str, dict[str, Any]] = {}
        self.answer_delay = 0.0  # seconds a booking's answer is held after the booking is made
        # random ids: the case an appointment starts outlives the fake on a shared Temporal server
        self._ids = itertools.count(random.randint(10**5, 10**9))
        super().__init__()

    # ------------------------------------------------------------ seeding
    def wall(self, at: datetime) -> str:
        return at.astimezone(self.zone).replace(tzinfo=None).isoformat(timespec="seconds")

    def read(self, text: str) -> datetime:
        at = datetime.fromisoformat(text)
        return at if at.tzinfo else at.replace(tzinfo=self.zone)

    def add_client(self, first: str, last: str, email: str, phone: str) -> str:
        client_id = uuid.uuid4().hex[:12]
        self.clients[client_id] = {"Id": client_id, "FirstName": first, "LastName": last, "Email": email,
                                   "MobilePhone": phone, "UniqueId": next(self._ids)}
        return client_id

    def add_appointment(self, client_id: str, start: datetime, status: str = "Booked", minutes: int = 60,
                        session_type: int = 12, location: int = 1, staff: int = 7) -> int:
        appointment_id = next(self._ids)
        self.appointments[appointment_id] = {
            "Id": appointment_id, "Status": status, "ClientId": client_id, "StaffId": staff, "LocationId": location,
            "SessionTypeId": session_type, "StartDateTime": self.wall(start),
            "EndDateTime": self.wall(start + timedelta(minutes=minutes)), "Duration": minutes, "Notes": None}
        return appointment_id

    def open_window(self, start: datetime, end: datetime, staff: int = 7, session_type: int = 12, location: int = 1,
                    minutes: int = 60) -> None:
        self.availability.append({
            "Id": next(self._ids), "Staff": {"Id": staff, "FirstName": "Sam"},
            "SessionType": {"Id": session_type}, "Location": {"Id": location}, "StartDateTime": self.wall(start),
            "EndDateTime": self.wall(end), "BookableEndDateTime": self.wall(end - timedelta(minutes=minutes)),
            "_minutes": minutes})

    def add_class_visit(self, client_id: str, start: datetime, signed_in: bool = False, late_cancelled: bool = False,
                        modified: datetime | None = None, minutes: int = 60) -> int:
        class_id = next((k for k, c in self.classes.items() if c["StartDateTime"] == self.wall(start)), None)
        if class_id is None:
            class_id = next(self._ids)
            self.classes[class_id] = {"Id": class_id, "StartDateTime": self.wall(start),
                                      "EndDateTime": self.wall(start + timedelta(minutes=minutes)),
                                      "Location": {"Id": 1}, "Staff": {"Id": 7}}
        visit_id = next(self._ids)
        self.visits[visit_id] = {
            "Id": visit_id, "ClassId": class_id, "ClientId": client_id, "LocationId": 1, "StaffId": 7,
            "StartDateTime": self.wall(start), "EndDateTime": self.wall(start + timedelta(minutes=minutes)),
            "SignedIn": signed_in, "LateCancelled": late_cancelled, "MakeUp": False, "Action": "None",
            "LastModifiedDateTime": self.wall(modified or datetime.now(UTC))}
        return visit_id

    # ------------------------------------------------------------ routes
    def setup_routes(self) -> None:
        self.route("POST", f"{PREFIX}/usertoken/issue", self._issue)
        self.route("GET", f"{PREFIX}/appointment/staffappointments", self._staff_appointments)
        self.route("GET", f"{PREFIX}/appointment/bookableitems", self._bookable)
        self.route("POST", f"{PREFIX}/appointment/addappointment", self._add)
        self.route("POST", f"{PREFIX}/appointment/updateappointment", self._update)
        self.route("GET", f"{PREFIX}/class/classes", self._classes)
        self.route("GET", f"{PREFIX}/class/classvisits", self._class_visits)
        self.route("GET", f"{PREFIX}/client/clients", self._clients)
        self.route("POST", f"{PREFIX}/client/addclient", self._add_client)
        self.route("GET", f"{PREFIX}/site/sites", self._sites)

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def _app(self, req: RecordedRequest) -> FakeResponse | None:
        if req.headers.get("api-key") != self.api_key or req.headers.get("siteid") != self.site_id:
            return FakeResponse(401, mb_error(401, "DeniedAccess", "invalid API key or site"))
        return None

    def _staff(self, req: RecordedRequest) -> FakeResponse | None:
        refused = self._app(req)
        if refused:
            return refused
        if req.headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
            return FakeResponse(401, mb_error(401, "DeniedAccess", "the access token is invalid"))
        return None

    def _page(self, req: RecordedRequest, key: str, rows: list[dict[str, Any]]) -> FakeResponse:
        limit = int(req.query.get("request.limit", "100"))
        offset = int(req.query.get("request.offset", "0"))
        page = rows[offset:offset + limit]
        return FakeResponse(200, {"PaginationResponse": {"RequestedLimit": limit, "RequestedOffset": offset,
                                                         "PageSize": len(page), "TotalResults": len(rows)}, key: page})

    def _issue(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._app(req)
        if refused:
            return refused
        body = req.json() or {}
        if body.get("Username") != self.username or body.get("Password") != self.password:
            return FakeResponse(401, mb_error(401, "InvalidCredentials", "username or password is wrong"))
        token = uuid.uuid4().hex
        self.tokens.add(token)
        return FakeResponse(200, {"TokenType": "Bearer", "AccessToken": token,
                                  "User": {"Id": 1, "FirstName": "Owner", "Type": "Staff"}})

    def _window(self, req: RecordedRequest, start_key: str, end_key: str) -> tuple[datetime, datetime]:
        start = self.read(req.query[start_key]) if start_key in req.query else datetime.now(UTC)
        end = self.read(req.query[end_key]) if end_key in req.query else start + timedelta(days=1)
        return start, end

    def _staff_appointments(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._staff(req)
        if refused:
            return refused
        start, end = self._window(req, "request.startDate", "request.endDate")
        wanted = set(self._ids_in(req, "request.clientIds"))
        rows = [a for a in sorted(self.appointments.values(), key=lambda a: a["StartDateTime"])
                if start <= self.read(a["StartDateTime"]) <= end and (not wanted or a["ClientId"] in wanted)]
        return self._page(req, "Appointments", rows)

    @staticmethod
    def _ids_in(req: RecordedRequest, name: str) -> list[str]:
        """Mindbody's list parameters repeat the name."""
        return [v for k, v in req.query_pairs if k == name]

    def _bookable(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._staff(req)
        if refused:
            return refused
        sessions = self._ids_in(req, "request.sessionTypeIds")
        if not sessions:
            return FakeResponse(400, mb_error(400, "MissingRequiredFields", "SessionTypeIds is required"))
        locations = self._ids_in(req, "request.locationIds")
        start, end = self._window(req, "request.startDate", "request.endDate")
        rows = [{k: v for k, v in item.items() if not k.startswith("_")} for item in self._free_windows()
                if str(item["SessionType"]["Id"]) in sessions
                and not (self.read(item["BookableEndDateTime"]) < start or self.read(item["StartDateTime"]) > end)
                and (not locations or str(item["Location"]["Id"]) in locations)]
        return self._page(req, "Availabilities", rows)

    def _add(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._staff(req)
        if refused:
            return refused
        body = req.json() or {}
        missing = [k for k in ("ClientId", "LocationId", "SessionTypeId", "StaffId", "StartDateTime") if k not in body]
        if missing:
            return FakeResponse(400, mb_error(400, "MissingRequiredFields", ", ".join(missing)))
        if str(body["ClientId"]) not in self.clients:
            return FakeResponse(400, mb_error(400, "InvalidClientId", "client not found"))
        start = self.read(body["StartDateTime"])
        fits = any(str(i["Staff"]["Id"]) == str(body["StaffId"]) and self.read(i["StartDateTime"]) <= start
                   <= self.read(i["BookableEndDateTime"]) for i in self._free_windows())
        if not fits:
            return FakeResponse(400, mb_error(400, "StaffUnavailable", "the staff member is not available"))
        end = self.read(body["EndDateTime"]) if body.get("EndDateTime") else start + timedelta(hours=1)
        appointment_id = next(self._ids)
        made = {"Id": appointment_id, "Status": "Booked", "ClientId": str(body["ClientId"]),
                "StaffId": int(body["StaffId"]), "LocationId": int(body["LocationId"]),
                "SessionTypeId": int(body["SessionTypeId"]), "StartDateTime": self.wall(start),
                "EndDateTime": self.wall(end), "Notes": body.get("Notes")}
        self.appointments[appointment_id] = made
        if self.answer_delay:
            time.sleep(self.answer_delay)  # made, but the answer comes after the client gave up
        return FakeResponse(200, {"Appointment": made})

    def _free_windows(self) -> list[dict[str, Any]]:
        """The availability windows less the booked appointments of their staff member, as Mindbody answers
        bookable items: a window split around each booking, kept while an appointment still fits in it."""
        out: list[dict[str, Any]] = []
        for item in self.availability:
            pieces = [(self.read(item["StartDateTime"]), self.read(item["EndDateTime"]))]
            for a in self.appointments.values():
                if a["Status"] in ("Cancelled", "LateCancelled") or a["StaffId"] != item["Staff"]["Id"]:
                    continue
                s, e = self.read(a["StartDateTime"]), self.read(a["EndDateTime"])
                pieces = [p for lo, hi in pieces for p in ((lo, min(hi, s)), (max(lo, e), hi)) if p[0] < p[1]]
            length = timedelta(minutes=item["_minutes"])
            for lo, hi in pieces:
                if hi - lo >= length:
                    out.append({**item, "StartDateTime": self.wall(lo), "EndDateTime": self.wall(hi),
                                "BookableEndDateTime": self.wall(hi - length)})
        return out

    def _update(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._staff(req)
        if refused:
            return refused
        body = req.json() or {}
        found = self.appointments.get(int(body.get("AppointmentId") or 0))
        if found is None:
            return FakeResponse(400, mb_error(400, "InvalidAppointment", "appointment not found"))
        if body.get("Execute") == "Cancel":
            found["Status"] = "Cancelled"
        return FakeResponse(200, {"Appointment": found})

    def _classes(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._staff(req)
        if refused:
            return refused
        start, end = self._window(req, "request.startDateTime", "request.endDateTime")
        rows = [c for c in self.classes.values() if start <= self.read(c["StartDateTime"]) <= end]
        return self._page(req, "Classes", rows)

    def _class_visits(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._staff(req)
        if refused:
            return refused
        class_id = int(req.query.get("request.classID") or 0)
        if class_id not in self.classes:
            return FakeResponse(400, mb_error(400, "InvalidClassId", "class not found"))
        since = self.read(req.query["request.lastModifiedDate"]) if "request.lastModifiedDate" in req.query else None
        visits = [v for v in self.visits.values() if v["ClassId"] == class_id
                  and (since is None or self.read(v["LastModifiedDateTime"]) >= since)]
        return FakeResponse(200, {"Class": {**self.classes[class_id], "Visits": visits}})

    def _clients(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._staff(req)
        if refused:
            return refused
        wanted = self._ids_in(req, "request.clientIDs")
        rows = [self.clients[c] for c in wanted if c in self.clients]
        return self._page(req, "Clients", rows)

    def _add_client(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._staff(req)
        if refused:
            return refused
        body = req.json() or {}
        if not body.get("FirstName") or not body.get("LastName"):
            return FakeResponse(400, mb_error(400, "MissingRequiredFields", "FirstName, LastName"))
        client_id = self.add_client(body["FirstName"], body["LastName"], body.get("Email", ""),
                                    body.get("MobilePhone", ""))
        return FakeResponse(200, {"Client": self.clients[client_id]})

    def _sites(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._app(req)
        if refused:
            return refused
        return FakeResponse(200, {"Sites": [{"Id": int(self.site_id), "Name": "Fake studio"}]})
