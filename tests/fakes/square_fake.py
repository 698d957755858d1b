"""A fake Square seller: the Bookings and Customers API resources the connector uses, and signed webhooks.

From https://developer.squareup.com/reference/square/bookings-api and the official Python SDK (squareup
46.0.0.20260916, `square/bookings/raw_client.py`, `square/types/`):
- every call needs `Authorization: Bearer <token>` (401 `{"errors": [{"category": "AUTHENTICATION_ERROR",
  "code": "UNAUTHORIZED"}]}`) and a `Square-Version` (a malformed one: 400 `INVALID_VALUE`, UNVERIFIED wording);
- `POST /v2/bookings/availability/search`: `start_at_range` of 24 hours to 32 days (400 `INVALID_VALUE`
  otherwise), `location_id`, `segment_filters[].service_variation_id` -> `{"availabilities": [...]}`;
- `POST /v2/bookings` (`idempotency_key`: the same key answers the same booking; `location_id`, `start_at`,
  `appointment_segments[].team_member_id / service_variation_id / service_variation_version` required: 400
  `MISSING_REQUIRED_PARAMETER`; a time no longer free: 400 `INVALID_VALUE`, UNVERIFIED) -> `{"booking"}`;
- `GET /v2/bookings/{id}` (404 `NOT_FOUND`), `GET /v2/bookings?start_at_min&start_at_max&location_id&limit&cursor`
  (`{"bookings", "cursor"}`);
- `POST /v2/bookings/{id}/cancel` with `booking_version`: a stale version is 409 `CONFLICT` (UNVERIFIED status);
- `GET /v2/customers/{id}`, `POST /v2/customers/search` (exact `email_address` / `phone_number`), `POST
  /v2/customers` (one of the names, email or phone required: 400 otherwise).
Webhooks: `x-square-hmacsha256-signature` = base64 HMAC-SHA256(signature key, notification URL + body).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.inbound import opt_dt
from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest

LOCATION, SERVICE, TEAM = "L9R0X9X5SGDBJ", "T3WUWYFJOVW2EU6XGRU5YG4A", "_4GsfYnqGHyurOwzWdKj"
SERVICE_VERSION = 1605808735978


def square_error(status: int, code: str, category: str = "INVALID_REQUEST_ERROR") -> dict[str, Any]:
    return {"errors": [{"category": category, "code": code, "detail": "refused"}]}


def square_signature(key: str, url: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), url.encode() + body, hashlib.sha256).digest()).decode()


def _z(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def booking_event(booking: dict[str, Any], kind: str = "booking.updated") -> bytes:
    """The webhook Square sends for a booking (the shape of the documented booking.updated example)."""
    return json.dumps({"merchant_id": "GQQWA3J6A3AEZ", "location_id": booking.get("location_id"), "type": kind,
                       "event_id": str(uuid.uuid4()), "created_at": booking.get("updated_at"),
                       "data": {"type": "booking", "id": f"{booking['id']}:{booking.get('version', 0)}",
                                "object": {"booking": booking}}}, separators=(",", ":")).encode()


class FakeSquare(FakeServer):
    def __init__(self, token: str = "EAAAl-sandbox-token", minutes: int = 30) -> None:
        self.token, self.minutes = token, minutes
        self.open_times: list[datetime] = []
        self.bookings: dict[str, dict[str, Any]] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, str] = {}  # idempotency key -> booking id
        self.page_size = 100
        self._n = itertools.count(1)
        super().__init__()

    def add_customer(self, customer_id: str, **fields: Any) -> str:
        self.customers[customer_id] = {"id": customer_id, **fields}
        return customer_id

    def add_booking(self, customer_id: str, start: datetime, status: str = "ACCEPTED") -> dict[str, Any]:
        """A booking made in Square itself. Its id is random: the case it starts outlives the fake."""
        booking_id = uuid.uuid4().hex[:14]
        now = _z(datetime.now(UTC))
        self.bookings[booking_id] = {
            "id": booking_id, "version": 0, "status": status, "start_at": _z(start), "created_at": now,
            "updated_at": now, "location_id": LOCATION, "customer_id": customer_id,
            "appointment_segments": [{"duration_minutes": self.minutes, "service_variation_id": SERVICE,
                                      "team_member_id": TEAM, "service_variation_version": SERVICE_VERSION}]}
        return self.bookings[booking_id]

    def set_status(self, booking_id: str, status: str) -> dict[str, Any]:
        row = self.bookings[booking_id]
        row.update(status=status, version=row["version"] + 1, updated_at=_z(datetime.now(UTC)))
        return row

    def setup_routes(self) -> None:
        self.route("GET", "/v2/bookings/business-booking-profile", self._profile)
        self.route("POST", "/v2/bookings/availability/search", self._availability)
        self.route("POST", "/v2/bookings", self._create)
        self.route("GET", "/v2/bookings", self._list)
        self.route("GET", "/v2/bookings/(?P<id>[^/]+)", self._get)
        self.route("POST", "/v2/bookings/(?P<id>[^/]+)/cancel", self._cancel)
        self.route("GET", "/v2/customers/(?P<id>[^/]+)", self._customer)
        self.route("POST", "/v2/customers/search", self._search)
        self.route("POST", "/v2/customers", self._create_customer)

    def _refused(self, req: RecordedRequest) -> FakeResponse | None:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return FakeResponse(401, square_error(401, "UNAUTHORIZED", "AUTHENTICATION_ERROR"))
        version = req.headers.get("square-version", "")
        if len(version) != 10 or version[4] != "-" or version[7] != "-":
            return FakeResponse(400, square_error(400, "INVALID_VALUE"))
        return None

    def _profile(self, req: RecordedRequest, m: Any) -> FakeResponse:
        return self._refused(req) or FakeResponse(200, {"business_booking_profile": {
            "seller_id": "GQQWA3J6A3AEZ", "booking_enabled": True, "customer_timezone_choice": "SELLER_TIMEZONE"}})

    def _availability(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        f = ((req.json() or {}).get("query") or {}).get("filter") or {}
        rng = f.get("start_at_range") or {}
        start, end = opt_dt(rng.get("start_at")), opt_dt(rng.get("end_at"))
        if start is None or end is None or not timedelta(hours=24) <= end - start <= timedelta(days=32):
            return FakeResponse(400, square_error(400, "INVALID_VALUE"))
        if f.get("location_id") != LOCATION or not f.get("segment_filters"):
            return FakeResponse(400, square_error(400, "INVALID_VALUE"))
        return FakeResponse(200, {"availabilities": [
            {"start_at": _z(at), "location_id": LOCATION, "appointment_segments": [
                {"duration_minutes": self.minutes, "service_variation_id": SERVICE, "team_member_id": TEAM,
                 "service_variation_version": SERVICE_VERSION}]}
            for at in sorted(self.open_times) if start <= at < end], "errors": []})

    def _create(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        body = req.json() or {}
        key = body.get("idempotency_key")
        if key in self.keys:
            return FakeResponse(200, {"booking": self.bookings[self.keys[key]]})
        b = body.get("booking") or {}
        segments = b.get("appointment_segments") or []
        needed = ("team_member_id", "service_variation_id", "service_variation_version")
        if not b.get("location_id") or not b.get("start_at") or not segments or any(
                not s.get(k) for s in segments for k in needed):
            return FakeResponse(400, square_error(400, "MISSING_REQUIRED_PARAMETER"))
        start = opt_dt(b["start_at"])
        if start not in self.open_times:
            return FakeResponse(400, square_error(400, "INVALID_VALUE"))
        self.open_times.remove(start)
        row = self.add_booking(b.get("customer_id", ""), start)
        if key:
            self.keys[key] = row["id"]
        return FakeResponse(200, {"booking": row})

    def _list(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        q = req.query
        low, high = opt_dt(q.get("start_at_min")), opt_dt(q.get("start_at_max"))
        if low is None or high is None or high - low > timedelta(days=31):
            return FakeResponse(400, square_error(400, "INVALID_VALUE"))
        rows = [b for b in sorted(self.bookings.values(), key=lambda b: b["start_at"])
                if low <= (opt_dt(b["start_at"]) or low) < high
                and (not q.get("location_id") or b["location_id"] == q["location_id"])]
        offset = int(q.get("cursor") or 0)
        page = rows[offset: offset + self.page_size]
        more = offset + self.page_size < len(rows)
        return FakeResponse(200, {"bookings": page, **({"cursor": str(offset + self.page_size)} if more else {})})

    def _get(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        row = self.bookings.get(m["id"])
        return FakeResponse(200, {"booking": row}) if row else FakeResponse(404, square_error(404, "NOT_FOUND"))

    def _cancel(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        row = self.bookings.get(m["id"])
        if row is None:
            return FakeResponse(404, square_error(404, "NOT_FOUND"))
        body = req.json() or {}
        if body.get("booking_version") is not None and body["booking_version"] != row["version"]:
            return FakeResponse(409, square_error(409, "CONFLICT"))
        return FakeResponse(200, {"booking": self.set_status(m["id"], "CANCELLED_BY_SELLER")})

    def _customer(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        row = self.customers.get(m["id"])
        return FakeResponse(200, {"customer": row}) if row else FakeResponse(404, square_error(404, "NOT_FOUND"))

    def _search(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        f = ((req.json() or {}).get("query") or {}).get("filter") or {}
        found = [c for c in self.customers.values()
                 if any(c.get(k) == (f.get(k) or {}).get("exact") for k in ("email_address", "phone_number")
                        if f.get(k))]
        return FakeResponse(200, {"customers": found[:1]} if found else {})

    def _create_customer(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        body = {k: v for k, v in (req.json() or {}).items() if k != "idempotency_key"}
        if not any(body.get(k) for k in ("given_name", "family_name", "company_name", "email_address",
                                         "phone_number")):
            return FakeResponse(400, square_error(400, "MISSING_REQUIRED_PARAMETER"))
        customer_id = f"C{next(self._n):05d}{uuid.uuid4().hex[:8].upper()}"
        return FakeResponse(200, {"customer": self.customers.setdefault(customer_id, {"id": customer_id, **body})})

    def free_after(self, start: datetime, count: int = 4) -> list[datetime]:
        times = [start + timedelta(minutes=self.minutes * i) for i in range(count)]
        self.open_times.extend(times)
        return times
