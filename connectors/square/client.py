"""Square Bookings API client (https://developer.squareup.com/reference/square/bookings-api; paths as in the
official Python SDK, squareup 46.0.0.20260916 `square/bookings/raw_client.py`).

Base `https://connect.squareup.com` (sandbox `https://connect.squareupsandbox.com`), `Authorization: Bearer
<access token>` and `Square-Version` on every call (default the SDK's pinned version). Calls used:
- SearchAvailability `POST /v2/bookings/availability/search` (`start_at_range` of at least 24 hours and at most
  32 days) -> `availabilities[]` of `{start_at, location_id, appointment_segments[]}`;
- CreateBooking `POST /v2/bookings` (`idempotency_key` in the body, `booking.location_id`, `start_at`,
  `customer_id`, `appointment_segments[]` with `team_member_id`, `service_variation_id`,
  `service_variation_version`, `duration_minutes`);
- RetrieveBooking `GET /v2/bookings/{id}`, ListBookings `GET /v2/bookings` (`start_at_min`, `start_at_max`,
  `location_id`, `limit`, `cursor`);
- CancelBooking `POST /v2/bookings/{id}/cancel` (`idempotency_key`, `booking_version`: optimistic concurrency);
- RetrieveCustomer `GET /v2/customers/{id}`, SearchCustomers `POST /v2/customers/search` (exact email or phone)
  (https://developer.squareup.com/reference/square/customers-api).
Errors are `{"errors": [{"category", "code", "detail"}]}`: only the status and `code` reach an exception (a
detail can quote the customer). UNVERIFIED: which status and code a stale version or a taken time answers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.contract import PermanentProviderError
from connectors.http import JsonApi, segment
from connectors.square.settings import DEFAULT_SQUARE_VERSION

DEFAULT_BASE_URL = "https://connect.squareup.com"


def square_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SquareClient(JsonApi):
    provider = "square"

    def __init__(self, access_token: str, base_url: str = DEFAULT_BASE_URL, version: str = DEFAULT_SQUARE_VERSION,
                 timeout: float = 10.0, http: httpx.Client | None = None) -> None:
        if not access_token:
            raise ValueError("Square needs an access token")
        super().__init__(base_url, {"Authorization": f"Bearer {access_token}", "Square-Version": version,
                                    "Accept": "application/json"}, timeout, http)

    # ------------------------------------------------------------------ reads
    def booking_profile(self) -> dict[str, Any]:
        found = self.call("GET", "/v2/bookings/business-booking-profile")
        profile = found.get("business_booking_profile") if isinstance(found, dict) else None
        return profile if isinstance(profile, dict) else {}

    def availability(self, start: datetime, end: datetime, location_id: str, service_variation_id: str
                     ) -> list[dict[str, Any]]:
        body = {"query": {"filter": {
            "start_at_range": {"start_at": square_time(start), "end_at": square_time(end)},
            "location_id": location_id,
            "segment_filters": [{"service_variation_id": service_variation_id}]}}}
        found = self.call("POST", "/v2/bookings/availability/search", json_body=body)
        items = found.get("availabilities") if isinstance(found, dict) else None
        return [a for a in items if isinstance(a, dict)] if isinstance(items, list) else []

    def booking(self, booking_id: str) -> dict[str, Any]:
        found = self.call("GET", f"/v2/bookings/{segment(booking_id)}")
        booking = found.get("booking") if isinstance(found, dict) else None
        return booking if isinstance(booking, dict) else {}

    def bookings(self, start_min: datetime, start_max: datetime, location_id: str | None = None, limit: int = 100
                 ) -> list[dict[str, Any]]:
        """Every booking starting in the window, across ListBookings' cursor pages."""
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"start_at_min": square_time(start_min), "start_at_max": square_time(start_max),
                                      "limit": limit}
            if location_id:
                params["location_id"] = location_id
            if cursor:
                params["cursor"] = cursor
            found = self.call("GET", "/v2/bookings", params=params)
            rows = found.get("bookings") if isinstance(found, dict) else None
            out.extend(r for r in rows or [] if isinstance(r, dict))
            cursor = found.get("cursor") if isinstance(found, dict) else None
            if not cursor:
                return out

    def customer(self, customer_id: str) -> dict[str, Any]:
        found = self.call("GET", f"/v2/customers/{segment(customer_id)}")
        customer = found.get("customer") if isinstance(found, dict) else None
        return customer if isinstance(customer, dict) else {}

    def find_customer(self, email: str | None, phone: str | None) -> str | None:
        """The id of the customer with exactly this email (else this phone), or None."""
        for field, value in (("email_address", email), ("phone_number", phone)):
            if not value:
                continue
            found = self.call("POST", "/v2/customers/search", json_body={
                "query": {"filter": {field: {"exact": value}}}, "limit": 1})
            items = found.get("customers") if isinstance(found, dict) else None
            if isinstance(items, list) and items and isinstance(items[0], dict) and items[0].get("id"):
                return str(items[0]["id"])
        return None

    # ------------------------------------------------------------------ writes
    def create_customer(self, fields: dict[str, Any], idempotency_key: str) -> str:
        """CreateCustomer `POST /v2/customers` (`given_name`, `family_name`, `email_address`, `phone_number`; the
        demo's customer: the engine itself never creates one)."""
        found = self.call("POST", "/v2/customers", json_body={"idempotency_key": idempotency_key[:45], **fields})
        made = found.get("customer") if isinstance(found, dict) else None
        if not isinstance(made, dict) or not made.get("id"):
            raise PermanentProviderError("square: the customer answered no id", code="no_id")
        return str(made["id"])

    def create_booking(self, booking: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        # the key travels in the body (Square has no idempotency header), so a retry of one key books once
        found = self.call("POST", "/v2/bookings", json_body={"idempotency_key": idempotency_key[:255],
                                                             "booking": booking})
        made = found.get("booking") if isinstance(found, dict) else None
        if not isinstance(made, dict) or not made.get("id"):
            raise PermanentProviderError("square: the booking answered no id", code="no_id")
        return made

    def cancel_booking(self, booking_id: str, version: int, idempotency_key: str) -> dict[str, Any]:
        found = self.call("POST", f"/v2/bookings/{segment(booking_id)}/cancel",
                          json_body={"idempotency_key": idempotency_key[:255], "booking_version": version})
        booking = found.get("booking") if isinstance(found, dict) else None
        return booking if isinstance(booking, dict) else {}
