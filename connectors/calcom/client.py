"""Cal.com API v2 client: slots, bookings, reschedule, cancel, mark-absent
(https://cal.com/docs/api-reference/v2/introduction).

Every call pins `cal-api-version` (omitting it silently selects an older endpoint version). Base URL is
configurable so tests point it at the fake. All failures go through connectors/http.py. The CalendarConnector
adapter over this client is connectors/calcom/calendar.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from connectors.contract import PermanentProviderError, SlotUnavailable
from connectors.http import JsonApi, error_from_response
from connectors.inbound import PayloadError, parse_dt
from domain.models import Contact, Slot

SLOTS_VERSION = "2024-09-04"
BOOKINGS_VERSION = "2024-08-13"
DEFAULT_BASE_URL = "https://api.cal.com/v2"

# Phrases Cal.com uses in a 400 when the time is no longer bookable (message text is the only signal there is).
# Never the bare word "slot": a refusal for a missing booking question may mention the slot too.
_CONFLICT_HINTS = ("no_available_users", "already has booking", "already booked", "is not available",
                   "not available at this time", "booking limit", "seats are full", "fully booked")
# A refusal about the booking's own data (a required booking question, the attendee's phone): permanent, and
# never to be read as "time taken" (the customer would be offered other times that fail the same way).
_FIELD_HINTS = ("error_required_field", "bookingfieldsresponses", "booking field", "required", "missing",
                "phonenumber", "phone number")


def _iso_utc(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class CalcomClient(JsonApi):
    """`api_key` = `cal_live_...` or an OAuth/managed-user access token (env NOSHOW_CALCOM_API_KEY)."""

    provider = "calcom"

    def __init__(self, api_key: str, base_url: str = DEFAULT_BASE_URL, timeout: float = 10.0,
                 http: httpx.Client | None = None) -> None:
        super().__init__(base_url, {"Authorization": f"Bearer {api_key}"}, timeout, http)

    def slots(self, event_type_id: int | str, start: date, end: date, time_zone: str = "UTC",
              slot_minutes: int = 30) -> list[Slot]:
        body = self.call("GET", "/slots", params={
            "eventTypeId": str(event_type_id), "start": start.isoformat(), "end": end.isoformat(),
            "timeZone": time_zone,
        }, headers={"cal-api-version": SLOTS_VERSION})
        data = (body or {}).get("data") or {}
        slots: list[Slot] = []
        for day in sorted(data):
            for item in data[day] or []:
                begin = parse_dt(item.get("start"), "slot start")
                finish = (parse_dt(item["end"], "slot end") if item.get("end")
                          else begin + timedelta(minutes=slot_minutes))
                slots.append(Slot(start=begin, end=finish, calendar_id=str(event_type_id)))
        return slots

    def get_booking(self, uid: str) -> dict[str, Any]:
        body = self.call("GET", f"/bookings/{uid}", headers={"cal-api-version": BOOKINGS_VERSION})
        return dict((body or {}).get("data") or {})

    def list_bookings(self, updated_after: datetime | None = None, take: int = 100, skip: int = 0
                      ) -> list[dict[str, Any]]:
        """Bookings changed since `updated_after`, oldest change first. The `afterUpdatedAt` / `sortUpdatedAt`
        filters of the v2 bookings list are UNVERIFIED against
        https://cal.com/docs/api-reference/v2/bookings/get-all-bookings."""
        params: dict[str, Any] = {"take": take, "skip": skip, "sortUpdatedAt": "asc"}
        if updated_after is not None:
            params["afterUpdatedAt"] = _iso_utc(updated_after)
        body = self.call("GET", "/bookings", params=params, headers={"cal-api-version": BOOKINGS_VERSION})
        data = (body or {}).get("data") or []
        return [dict(b) for b in data if isinstance(b, dict)]

    def create_booking(self, event_type_id: int | str, start: datetime, attendee: Contact,
                       metadata: dict[str, str] | None = None,
                       booking_fields: dict[str, Any] | None = None) -> str:
        """`attendee.phoneNumber` goes with every booking that knows the phone (event types with SMS reminders
        or a required phone field refuse without it); `booking_fields` answer the event type's required booking
        questions (`bookingFieldsResponses`, keyed by the question's slug)."""
        if not attendee.email or not attendee.name:
            raise PermanentProviderError("calcom: a booking needs the attendee's name and email", code="no_contact")
        person: dict[str, Any] = {"name": attendee.name, "email": attendee.email,
                                  "timeZone": attendee.timezone or "UTC"}
        if attendee.phone:
            person["phoneNumber"] = attendee.phone
        body: dict[str, Any] = {"eventTypeId": int(event_type_id), "start": _iso_utc(start), "attendee": person,
                                "metadata": metadata or {}}
        if booking_fields:
            body["bookingFieldsResponses"] = dict(booking_fields)
        response = self.request("POST", "/bookings", json_body=body, headers={"cal-api-version": BOOKINGS_VERSION},
                                ok=(400, 409))
        if response.status_code in (400, 409):
            raise booking_refusal(response)
        return _uid_of(response.json())

    def reschedule(self, uid: str, start: datetime, rescheduled_by: str | None = None,
                   reason: str | None = None) -> str:
        """Returns the new booking uid (Cal.com gives the moved booking a new uid)."""
        body: dict[str, Any] = {"start": _iso_utc(start)}
        if rescheduled_by:
            body["rescheduledBy"] = rescheduled_by
        if reason:
            body["reschedulingReason"] = reason
        return _uid_of(self.call("POST", f"/bookings/{uid}/reschedule", json_body=body,
                                 headers={"cal-api-version": BOOKINGS_VERSION}))

    def cancel(self, uid: str, reason: str | None = None) -> None:
        body = {"cancellationReason": reason} if reason else {}
        self.call("POST", f"/bookings/{uid}/cancel", json_body=body, headers={"cal-api-version": BOOKINGS_VERSION})

    def mark_absent(self, uid: str, attendees: dict[str, bool] | None = None, host: bool | None = None) -> None:
        """`attendees` maps attendee email -> absent. Triggers BOOKING_NO_SHOW_UPDATED."""
        body: dict[str, Any] = {}
        if host is not None:
            body["host"] = host
        if attendees:
            body["attendees"] = [{"email": e, "absent": a} for e, a in attendees.items()]
        self.call("POST", f"/bookings/{uid}/mark-absent", json_body=body,
                  headers={"cal-api-version": BOOKINGS_VERSION})


def booking_refusal(response: httpx.Response) -> Exception:
    """A 400/409 on create-booking: the time is taken (SlotUnavailable: re-offer), or the booking itself is
    refused (a permanent error naming Cal.com's code; a missing booking question is `booking_field_required`)."""
    text = response.text.lower()
    if any(h in text for h in _FIELD_HINTS) and not any(h in text for h in _CONFLICT_HINTS[:4]):
        return PermanentProviderError(f"calcom HTTP {response.status_code}: the booking's data was refused",
                                      code="booking_field_required")
    if response.status_code == 409 or any(h in text for h in _CONFLICT_HINTS):
        return SlotUnavailable("calcom: the time is no longer available")
    return error_from_response(response, "calcom")


def _uid_of(body: Any) -> str:
    data = (body or {}).get("data") if isinstance(body, dict) else None
    if isinstance(data, list) and data:
        data = data[0]
    if not isinstance(data, dict) or not data.get("uid"):
        raise PayloadError("Cal.com response has no booking uid")
    return str(data["uid"])
