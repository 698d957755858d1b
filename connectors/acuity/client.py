"""Acuity Scheduling REST client (base `https://acuityscheduling.com/api/v1`, the official Node SDK's
`AcuityScheduling.base` + `/api/v1`).

Auth: HTTP Basic, user name = the numeric User ID, password = the API key (Integrations > API in Acuity;
https://developers.acuityscheduling.com/docs/quick-start). Calls used:
- `GET /availability/dates?month=YYYY-MM&appointmentTypeID=&calendarID=` -> `[{"date": "YYYY-MM-DD"}]`, the days
  with a free time (the official Node SDK's create-appointment example);
- `GET /availability/times?date=YYYY-MM-DD&appointmentTypeID=&calendarID=` -> `[{"time", "slotsAvailable"}]`
  (https://developers.acuityscheduling.com/reference/get-availability-times; the answer's shape is UNVERIFIED);
- `POST /appointments` with `appointmentTypeID`, `datetime`, `firstName`, `lastName`, `email` (required for a
  client booking), `phone`, `calendarID`, `timezone`; booked as a client, so Acuity's own availability rules
  apply (https://developers.acuityscheduling.com/reference/post-appointments);
- `GET /appointments/{id}`, `GET /appointments?minDate=&maxDate=&showall=true&max=&email=`
  (https://developers.acuityscheduling.com/reference/get-appointments);
- `PUT /appointments/{id}/cancel?admin=true&noEmail=` with `{"cancelNote", "noShow"}`: "Canceling an appointment
  as an admin allows setting the noShow field" (https://developers.acuityscheduling.com/reference/
  put-appointments-id-cancel). The body field names are UNVERIFIED.
- `GET /me`, the account (the live check; https://developers.acuityscheduling.com/reference/get-me).
Errors are `{"status_code", "error", "message"}`: only the status and `error` reach an exception (a message can
quote the client's details). The limit of 10 requests a second is UNVERIFIED
(https://developers.acuityscheduling.com/reference/api-errors). Acuity has no idempotency key.
"""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from connectors.contract import PermanentProviderError
from connectors.http import JsonApi, segment
from connectors.inbound import PayloadError, parse_dt
from domain.models import Contact, Slot

DEFAULT_BASE_URL = "https://acuityscheduling.com/api/v1"


def acuity_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def parse_acuity_time(value: Any, what: str = "time") -> datetime:
    """Acuity writes offsets without a colon (`2016-02-04T13:00:00-0800`)."""
    return parse_dt(value, what)


class AcuityClient(JsonApi):
    provider = "acuity"
    rate_limit = (10.0, 1.0)

    def __init__(self, user_id: str, api_key: str, base_url: str = DEFAULT_BASE_URL, timeout: float = 10.0,
                 http: httpx.Client | None = None) -> None:
        if not user_id or not api_key:
            raise ValueError("Acuity needs the user id and the API key")
        token = base64.b64encode(f"{user_id}:{api_key}".encode()).decode()
        super().__init__(base_url, {"Authorization": f"Basic {token}", "Accept": "application/json"}, timeout, http)

    # ------------------------------------------------------------------ reads
    def me(self) -> dict[str, Any]:
        found = self.call("GET", "/me")
        return found if isinstance(found, dict) else {}

    def dates(self, appointment_type: str, month: date, calendar: str | None) -> list[date]:
        params = {"month": month.strftime("%Y-%m"), "appointmentTypeID": appointment_type}
        if calendar:
            params["calendarID"] = calendar
        found = self.call("GET", "/availability/dates", params=params)
        days: list[date] = []
        for item in found if isinstance(found, list) else []:
            try:
                days.append(date.fromisoformat(str(item.get("date") if isinstance(item, dict) else "")))
            except ValueError:
                continue
        return days

    def times(self, appointment_type: str, day: date, calendar: str | None, slot_minutes: int) -> list[Slot]:
        params = {"date": day.isoformat(), "appointmentTypeID": appointment_type}
        if calendar:
            params["calendarID"] = calendar
        found = self.call("GET", "/availability/times", params=params)
        slots: list[Slot] = []
        for item in found if isinstance(found, list) else []:
            if not isinstance(item, dict) or item.get("slotsAvailable", 1) in (0, "0"):
                continue
            start = parse_acuity_time(item.get("time"), "availability time")
            slots.append(Slot(start=start, end=start + timedelta(minutes=slot_minutes),
                              calendar_id=calendar_key(appointment_type, calendar)))
        return slots

    def appointment(self, appointment_id: str) -> dict[str, Any]:
        found = self.call("GET", f"/appointments/{segment(appointment_id)}")
        if not isinstance(found, dict):
            raise PayloadError("Acuity answered no appointment")
        return found

    def appointments(self, start: date, end: date, max_results: int = 1000, **filters: str) -> list[dict[str, Any]]:
        """Scheduled and canceled appointments from `start` to `end` (dates, inclusive), by start time."""
        params: dict[str, Any] = {"minDate": start.isoformat(), "maxDate": end.isoformat(), "showall": "true",
                                  "max": max_results, **filters}
        found = self.call("GET", "/appointments", params=params)
        return [a for a in found if isinstance(a, dict)] if isinstance(found, list) else []

    # ------------------------------------------------------------------ writes
    def create(self, appointment_type: str, start: datetime, contact: Contact, calendar: str | None,
               admin: bool = False) -> dict[str, Any]:
        """As a client (Acuity's availability rules apply), or with `admin` as the business, which "disables
        availability and attribute validations" and needs `calendar` (UNVERIFIED wording, Pipedream's copy of the
        reference); only the demo books as an admin, to record an appointment that has already begun."""
        if not contact.email:
            raise PermanentProviderError("acuity: a booking needs the client's email", code="no_contact")
        first, _, last = (contact.name or "Guest").strip().partition(" ")
        body: dict[str, Any] = {"appointmentTypeID": int(appointment_type), "datetime": acuity_time(start),
                                "firstName": first or "Guest", "lastName": last or "-", "email": contact.email}
        if contact.phone:
            body["phone"] = contact.phone
        if contact.timezone:
            body["timezone"] = contact.timezone
        if calendar:
            body["calendarID"] = int(calendar)
        found = self.call("POST", "/appointments", json_body=body, ambiguous_after_send=True,
                          params={"admin": "true"} if admin else None)
        if not isinstance(found, dict) or not found.get("id"):
            raise PermanentProviderError("acuity: the booking answered no id", code="no_id")
        return found

    def cancel(self, appointment_id: str, no_show: bool = False, note: str | None = None,
               notify: bool = True) -> dict[str, Any]:
        """As an admin (the engine acts for the business: the client's cancellation rules do not apply)."""
        body: dict[str, Any] = {"noShow": True} if no_show else {}
        if note:
            body["cancelNote"] = note[:500]
        params = {"admin": "true", **({} if notify else {"noEmail": "true"})}
        found = self.call("PUT", f"/appointments/{segment(appointment_id)}/cancel", params=params, json_body=body)
        return found if isinstance(found, dict) else {}


def calendar_key(appointment_type: str, calendar: str | None) -> str:
    """The engine's calendar id for an Acuity appointment type (on one calendar, or on any)."""
    return f"{appointment_type}:{calendar}" if calendar else str(appointment_type)


def split_calendar_key(key: str) -> tuple[str, str | None] | None:
    """(appointment type id, calendar id or None), or None when `key` is not an Acuity calendar id."""
    kind, _, calendar = key.partition(":")
    if not kind.isdigit() or (calendar and not calendar.isdigit()):
        return None
    return kind, calendar or None
