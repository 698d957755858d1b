"""Fake provider APIs for the scheduling / CRM connectors: the endpoints our clients use, with the providers'
real status codes and error body shapes (as each provider's API reference documents them), in-memory state, and
every request recorded."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class FakeCalcom(FakeServer):
    """Cal.com API v2 under /v2.

    `phone_required` stands for an event type with SMS reminders / a required attendee phone field, and
    `required_fields` for its required booking questions (slugs). Cal.com refuses such a booking with a 400; the
    exact message wording is UNVERIFIED, so the fake's refusal deliberately mentions the slot as well."""

    def __init__(self) -> None:
        self.phone_required = False
        self.required_fields: set[str] = set()
        self.free: list[datetime] = []
        self.taken_meanwhile: set[datetime] = set()  # listed as free, refused at booking (someone was faster)
        self.bookings: dict[str, dict[str, Any]] = {}
        self.api_key: str | None = None  # set: `GET /v2/me` answers only `Authorization: Bearer <it>`
        super().__init__()

    @staticmethod
    def error(status: int, code: str, message: str) -> FakeResponse:
        return FakeResponse(status, {"status": "error", "error": {"code": code, "message": message}})

    def setup_routes(self) -> None:
        self.route("GET", "/v2/me", self._me)
        self.route("GET", "/v2/slots", self._slots)
        self.route("GET", "/v2/bookings", self._list)
        self.route("POST", "/v2/bookings", self._create)
        self.route("GET", "/v2/bookings/(?P<uid>[^/]+)", self._get)
        self.route("POST", "/v2/bookings/(?P<uid>[^/]+)/(?P<action>reschedule|cancel|mark-absent)", self._action)

    def _me(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        """https://cal.com/docs/api-reference/v2/me/get-my-profile"""
        if self.api_key is not None and req.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.error(401, "UnauthorizedException", "Invalid API Key")
        return FakeResponse(200, {"status": "success", "data": {"id": 1047, "username": "owner",
                                                                 "timeZone": "UTC", "weekStart": "Monday"}})

    def _slots(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        data: dict[str, list[dict[str, str]]] = {}
        for at in sorted(self.free):
            data.setdefault(at.date().isoformat(), []).append({"start": _iso(at)})
        return FakeResponse(200, {"status": "success", "data": data})

    def _list(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        after = req.query.get("afterUpdatedAt")
        rows = [b for b in self.bookings.values() if not after or b["updatedAt"] > after]
        return FakeResponse(200, {"status": "success", "data": sorted(rows, key=lambda b: b["updatedAt"])})

    def _create(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        body = req.json()
        attendee = body.get("attendee") or {}
        if not attendee.get("name") or not attendee.get("email"):
            return self.error(400, "BadRequestException", "attendee name and email are required")
        if self.phone_required and not attendee.get("phoneNumber"):
            return self.error(400, "BadRequestException", "Missing attendee phone number - it is required by the "
                              "event type. Pass it as \"attendee.phoneNumber\" string in the request.")
        answers = body.get("bookingFieldsResponses") or {}
        missing = sorted(f for f in self.required_fields if not answers.get(f))
        if missing:
            return self.error(400, "BadRequestException", "Could not book the slot: bookingFieldsResponses - "
                              + ", ".join(f"{{{f}}}error_required_field" for f in missing))
        start = datetime.fromisoformat(body["start"].replace("Z", "+00:00"))
        if start not in self.free or start in self.taken_meanwhile:
            return self.error(400, "BadRequestException",
                              "User either already has booking at this time or is not available")
        self.free.remove(start)
        uid = uuid.uuid4().hex[:22]
        self.bookings[uid] = {"uid": uid, "status": "accepted", "start": _iso(start),
                              "end": _iso(start + timedelta(minutes=30)), "eventTypeId": body["eventTypeId"],
                              "attendees": [attendee], "metadata": body.get("metadata") or {},
                              "updatedAt": _iso(datetime.now(UTC))}
        return FakeResponse(201, {"status": "success", "data": self.bookings[uid]})

    def _get(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        booking = self.bookings.get(m["uid"])
        if booking is None:
            return self.error(404, "NotFoundException", "Booking not found")
        return FakeResponse(200, {"status": "success", "data": booking})

    def _action(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        booking = self.bookings.get(m["uid"])
        if booking is None:
            return self.error(404, "NotFoundException", "Booking not found")
        action = m["action"]
        if action == "reschedule":
            if booking["status"] not in ("accepted", "pending"):
                return self.error(400, "BadRequestException", "Booking cannot be rescheduled")
            new_uid = uuid.uuid4().hex[:22]
            start = req.json()["start"]
            self.bookings[new_uid] = {**booking, "uid": new_uid, "start": start}
            booking.update(status="cancelled", rescheduledToUid=new_uid)
            return FakeResponse(201, {"status": "success", "data": self.bookings[new_uid]})
        if action == "cancel":
            booking["status"] = "cancelled"
            self.free.append(datetime.fromisoformat(booking["start"].replace("Z", "+00:00")))  # the time is free again
        else:
            for a in req.json().get("attendees") or []:
                for att in booking.get("attendees", []):
                    if att.get("email") == a["email"]:
                        att["absent"] = a["absent"]
        return FakeResponse(200, {"status": "success", "data": booking})


class FakeCalendly(FakeServer):
    def __init__(self) -> None:
        self.token: str | None = None  # set: `GET /users/me` answers only `Bearer <it>`
        self.available: list[datetime] = []
        self.taken_meanwhile: set[datetime] = set()  # listed as available, refused at booking
        self.booked: dict[str, dict[str, Any]] = {}  # invitee uri -> invitee created with POST /invitees
        self.cancelled: list[str] = []  # scheduled event uuids
        self.no_shows: dict[str, str] = {}  # uuid -> invitee uri
        self.events: list[dict[str, Any]] = []
        self.invitees: dict[str, list[dict[str, Any]]] = {}
        super().__init__()

    @staticmethod
    def error(status: int, title: str, message: str) -> FakeResponse:
        return FakeResponse(status, {"title": title, "message": message})

    def setup_routes(self) -> None:
        self.route("GET", "/event_type_available_times", self._times)
        self.route("POST", "/invitee_no_shows", self._mark)
        self.route("DELETE", "/invitee_no_shows/(?P<uuid>[^/]+)", self._unmark)
        self.route("POST", "/scheduling_links", self._link)
        self.route("POST", "/invitees", self._book)
        self.route("POST", "/scheduled_events/(?P<uuid>[^/]+)/cancellation", self._cancel)
        self.route("GET", "/scheduled_events", self._events)
        self.route("GET", "/users/me", self._me)
        self.route("GET", "/scheduled_events/(?P<uuid>[^/]+)/invitees", self._invitees)

    def _times(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        start = datetime.fromisoformat(req.query["start_time"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(req.query["end_time"].replace("Z", "+00:00"))
        if end - start > timedelta(days=31):
            return self.error(400, "Invalid Argument", "The supplied parameters are invalid.")
        return FakeResponse(200, {"collection": [
            {"status": "available", "invitees_remaining": 1, "start_time": _iso(t),
             "scheduling_url": "https://calendly.com/x"} for t in self.available if start <= t < end]})

    def _mark(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        invitee = (req.json() or {}).get("invitee")
        if not invitee:
            return self.error(400, "Invalid Argument", "The supplied parameters are invalid.")
        key = uuid.uuid4().hex
        self.no_shows[key] = invitee
        return FakeResponse(201, {"resource": {"uri": f"https://api.calendly.com/invitee_no_shows/{key}",
                                               "invitee": invitee, "created_at": _iso(datetime.now(UTC))}})

    def _unmark(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        if self.no_shows.pop(m["uuid"], None) is None:
            return self.error(404, "Resource Not Found", "The server could not find the requested resource.")
        return FakeResponse(204)

    def _book(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        body = req.json() or {}
        invitee = body.get("invitee") or {}
        if not body.get("event_type") or not body.get("start_time") or not invitee.get("email"):
            return self.error(400, "Invalid Argument", "The supplied parameters are invalid.")
        start = datetime.fromisoformat(body["start_time"].replace("Z", "+00:00"))
        if start not in self.available or start in self.taken_meanwhile:
            return self.error(400, "Invalid Argument", "The selected time is no longer available.")
        self.available.remove(start)
        event = f"https://api.calendly.com/scheduled_events/EVT{uuid.uuid4().hex[:10]}"
        uri = f"{event}/invitees/INV{uuid.uuid4().hex[:10]}"
        self.booked[uri] = {"uri": uri, "event": event, "email": invitee["email"], "name": invitee.get("name"),
                            "timezone": invitee.get("timezone"), "status": "active", "start_time": _iso(start),
                            "event_type": body["event_type"], "created_at": _iso(datetime.now(UTC))}
        return FakeResponse(201, {"resource": self.booked[uri]})

    def _link(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        body = req.json() or {}
        return FakeResponse(201, {"resource": {"booking_url": f"https://calendly.com/d/{uuid.uuid4().hex[:8]}",
                                               "owner": body.get("owner"), "owner_type": "EventType"}})

    def _cancel(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        self.cancelled.append(m["uuid"])
        return FakeResponse(201, {"resource": {"canceled_by": "host", "reason": (req.json() or {}).get("reason")}})

    def _me(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        """https://developer.calendly.com/api-docs/005832c83aeae-get-current-user"""
        if self.token is not None and req.headers.get("authorization") != f"Bearer {self.token}":
            return FakeResponse(401, {"title": "Unauthenticated", "message": "The access token is invalid"})
        return FakeResponse(200, {"resource": {"uri": "https://api.calendly.com/users/AAAA", "name": "Pro",
                                               "timezone": "America/New_York"}})

    def _events(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        return FakeResponse(200, {"collection": self.events, "pagination": {"next_page": None}})

    def _invitees(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        return FakeResponse(200, {"collection": self.invitees.get(m["uuid"], []), "pagination": {"next_page": None}})


class FakeGoogleCalendar(FakeServer):
    """Calendar v3 under /calendar/v3 (point the client at base_url + "/calendar/v3")."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}
        self.busy: list[tuple[datetime, datetime]] = []  # blocks besides the events (other calendars' meetings)
        self.valid_sync_tokens: set[str] = set()
        self.changed_since_token: list[dict[str, Any]] = []
        self.channels: dict[str, dict[str, Any]] = {}  # open push channels by id (watch adds, stop removes)
        self.channel_ttl = timedelta(days=7)  # the longest lifetime the fake grants
        self.token: str | None = None  # set: `GET /calendars/{id}` answers only `Bearer <it>`
        super().__init__()

    @staticmethod
    def error(status: int, reason: str, message: str) -> FakeResponse:
        return FakeResponse(status, {"error": {"errors": [{"domain": "calendar", "reason": reason,
                                                           "message": message}], "code": status, "message": message}})

    def setup_routes(self) -> None:
        base = "/calendar/v3"
        self.route("POST", f"{base}/calendars/(?P<cal>[^/]+)/events/watch", self._watch)
        self.route("POST", f"{base}/channels/stop", self._stop)
        self.route("GET", f"{base}/calendars/(?P<cal>[^/]+)/events", self._list)
        self.route("GET", f"{base}/calendars/(?P<cal>[^/]+)", self._calendar)
        self.route("POST", f"{base}/calendars/(?P<cal>[^/]+)/events", self._insert)
        self.route("GET", f"{base}/calendars/(?P<cal>[^/]+)/events/(?P<id>[^/]+)", self._get)
        self.route("PATCH", f"{base}/calendars/(?P<cal>[^/]+)/events/(?P<id>[^/]+)", self._patch)
        self.route("POST", f"{base}/freeBusy", self._freebusy)

    def _watch(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        body = req.json()
        if body.get("type") != "web_hook" or not str(body.get("address", "")).startswith(("https://", "http://")):
            return self.error(400, "push.webhookUrlNotHttps", "WebHook callback must be HTTPS.")
        if body["id"] in self.channels:
            return self.error(400, "channelIdNotUnique", "Channel id not unique.")
        longest = int((datetime.now(UTC) + self.channel_ttl).timestamp() * 1000)
        expiration = min(int(body.get("expiration") or longest), longest)
        self.channels[body["id"]] = {**body, "resourceId": f"res-{m['cal']}", "expiration": expiration}
        return FakeResponse(200, {"kind": "api#channel", "id": body["id"], "resourceId": f"res-{m['cal']}",
                                  "resourceUri": "https://www.googleapis.com/calendar/v3/calendars/x/events",
                                  "expiration": str(expiration)})

    def _stop(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        body = req.json() or {}
        channel = self.channels.get(body.get("id", ""))
        if channel is None or channel["resourceId"] != body.get("resourceId"):
            return self.error(404, "notFound", f"Channel '{body.get('id')}' not found for project")
        del self.channels[body["id"]]
        return FakeResponse(204)

    def _calendar(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        """https://developers.google.com/calendar/api/v3/reference/calendars/get"""
        if self.token is not None and req.headers.get("authorization") != f"Bearer {self.token}":
            return self.error(401, "authError", "Invalid Credentials")
        return FakeResponse(200, {"kind": "calendar#calendar", "id": m["cal"], "summary": "Ops",
                                  "timeZone": "America/New_York"})

    def _list(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        token = req.query.get("syncToken")
        if token is not None:
            if token not in self.valid_sync_tokens:
                return self.error(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")
            items = self.changed_since_token
        else:
            items = list(self.events.values())
        new_token = f"sync-{uuid.uuid4().hex[:8]}"
        self.valid_sync_tokens.add(new_token)
        return FakeResponse(200, {"kind": "calendar#events", "items": items, "nextSyncToken": new_token})

    def _insert(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        body = req.json()
        event_id = body.get("id") or uuid.uuid4().hex
        if event_id in self.events:
            return self.error(409, "duplicate", "The requested identifier already exists.")
        event = {**body, "id": event_id, "status": "confirmed"}
        self.events[event_id] = event
        return FakeResponse(200, event)

    def _get(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        if m["id"] not in self.events:
            return self.error(404, "notFound", "Not Found")
        return FakeResponse(200, self.events[m["id"]])

    def _patch(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        if m["id"] not in self.events:
            return self.error(404, "notFound", "Not Found")
        self.events[m["id"]].update(req.json())
        return FakeResponse(200, self.events[m["id"]])

    def _freebusy(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        body = req.json()
        lo = datetime.fromisoformat(body["timeMin"].replace("Z", "+00:00"))
        hi = datetime.fromisoformat(body["timeMax"].replace("Z", "+00:00"))
        blocks = list(self.busy) + [
            (datetime.fromisoformat(e["start"]["dateTime"].replace("Z", "+00:00")),
             datetime.fromisoformat(e["end"]["dateTime"].replace("Z", "+00:00")))
            for e in self.events.values() if e.get("status") != "cancelled" and (e.get("start") or {}).get("dateTime")]
        busy = [{"start": _iso(s), "end": _iso(e)} for s, e in blocks if s < hi and lo < e]
        return FakeResponse(200, {"kind": "calendar#freeBusy", "timeMin": body["timeMin"], "timeMax": body["timeMax"],
                                  "calendars": {i["id"]: {"busy": busy} for i in body["items"]}})


class FakeGraph(FakeServer):
    """Microsoft Graph under /v1.0."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.delta_items: list[dict[str, Any]] = []
        self.token: str | None = None  # set: `GET /users/{id}` answers only `Bearer <it>`
        super().__init__()

    @staticmethod
    def error(status: int, code: str, message: str) -> FakeResponse:
        return FakeResponse(status, {"error": {"code": code, "message": message}})

    def setup_routes(self) -> None:
        base = "/v1.0"
        self.route("POST", f"{base}/subscriptions", self._subscribe)
        self.route("PATCH", f"{base}/subscriptions/(?P<id>[^/]+)", self._renew)
        self.route("DELETE", f"{base}/subscriptions/(?P<id>[^/]+)", self._delete_sub)
        self.route("POST", f"{base}/users/(?P<user>[^/]+)/findMeetingTimes", self._find)
        self.route("GET", f"{base}/users/(?P<user>[^/]+)/calendarView", self._view)
        self.route("GET", f"{base}/users/(?P<user>[^/]+)", self._user)
        self.route("GET", f"{base}/users/(?P<user>[^/]+)/calendarView/delta", self._delta)
        self.route("POST", f"{base}/users/(?P<user>[^/]+)/events", self._create)
        self.route("PATCH", f"{base}/users/(?P<user>[^/]+)/events/(?P<id>[^/]+)", self._update)
        self.route("POST", f"{base}/users/(?P<user>[^/]+)/events/(?P<id>[^/]+)/cancel", self._cancel)

    # Outlook event subscriptions: https://learn.microsoft.com/en-us/graph/api/resources/subscription
    MAX_LIFETIME = timedelta(minutes=4230)

    def _lifetime_error(self, body: dict[str, Any]) -> FakeResponse | None:
        try:
            expires = datetime.fromisoformat(str(body.get("expirationDateTime")).replace("Z", "+00:00"))
        except ValueError:
            return self.error(400, "InvalidRequest", "expirationDateTime is not a date")
        if expires > datetime.now(UTC) + self.MAX_LIFETIME + timedelta(minutes=1):
            return self.error(400, "InvalidRequest",
                              "Subscription expiration can only be 4230 minutes in the future.")
        return None

    def _subscribe(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        body = req.json()
        if len(body.get("clientState") or "") > 128:
            return self.error(400, "InvalidRequest", "clientState is too long")
        problem = self._lifetime_error(body)
        if problem is not None:
            return problem
        sub = {**body, "id": uuid.uuid4().hex}
        self.subscriptions[sub["id"]] = sub
        return FakeResponse(201, sub)

    def _renew(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        if m["id"] not in self.subscriptions:
            return self.error(404, "ResourceNotFound", "The object was not found.")
        problem = self._lifetime_error(req.json())
        if problem is not None:
            return problem
        self.subscriptions[m["id"]].update(req.json())
        return FakeResponse(200, self.subscriptions[m["id"]])

    def _delete_sub(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        return FakeResponse(204) if self.subscriptions.pop(m["id"], None) else self.error(
            404, "ResourceNotFound", "The object was not found.")

    def _find(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        slot = req.json()["timeConstraint"]["timeSlots"][0]
        return FakeResponse(200, {"emptySuggestionsReason": "", "meetingTimeSuggestions": [
            {"confidence": 100.0, "organizerAvailability": "free",
             "meetingTimeSlot": {"start": {"dateTime": slot["start"]["dateTime"], "timeZone": "UTC"},
                                 "end": {"dateTime": slot["end"]["dateTime"], "timeZone": "UTC"}}}]})

    def _user(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        """https://learn.microsoft.com/en-us/graph/api/user-get"""
        if self.token is not None and req.headers.get("authorization") != f"Bearer {self.token}":
            return FakeResponse(401, {"error": {"code": "InvalidAuthenticationToken",
                                                "message": "Access token validation failure."}})
        return FakeResponse(200, {"id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd", "displayName": "Ops"})

    def _view(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        lo = req.query["startDateTime"][:19]
        hi = req.query["endDateTime"][:19]
        rows = [e for e in self.events.values() if e["start"]["dateTime"][:19] < hi and lo < e["end"]["dateTime"][:19]]
        return FakeResponse(200, {"value": rows})

    def _delta(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        if "$deltatoken" in req.query and req.query["$deltatoken"] == "expired":
            return self.error(410, "syncStateNotFound", "The sync state is not found.")
        link = f"{self.base_url}/v1.0/users/{m['user']}/calendarView/delta?$deltatoken=t{uuid.uuid4().hex[:6]}"
        return FakeResponse(200, {"value": self.delta_items, "@odata.deltaLink": link})

    def _create(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        body = req.json()
        for e in self.events.values():
            if body.get("transactionId") and e.get("transactionId") == body["transactionId"]:
                return FakeResponse(201, e)
        event = {**body, "id": f"AAMk{uuid.uuid4().hex[:12]}", "isCancelled": False, "showAs": "busy"}
        self.events[event["id"]] = event
        return FakeResponse(201, event)

    def _update(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        if m["id"] not in self.events:
            return self.error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        self.events[m["id"]].update(req.json())
        return FakeResponse(200, self.events[m["id"]])

    def _cancel(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        if m["id"] not in self.events:
            return self.error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        self.events[m["id"]]["isCancelled"] = True
        return FakeResponse(202)


ASSOCIATION_TARGETS = {200: "contacts", 202: "contacts", 204: "contacts"}


class FakeHubSpot(FakeServer):
    """CRM objects v3. An object is {"properties": {...}, "associations": [...], "links": {type: [ids]}}; seed
    links with `link(...)`. `patched(type)` lists every PATCH body the fake received, in order."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, dict[str, Any]]] = {"contacts": {}, "meetings": {}, "notes": {},
                                                               "tasks": {}}
        self.access_token: str | None = None  # set: the account-info call answers only `Bearer <it>`
        super().__init__()

    def link(self, object_type: str, object_id: str, to_type: str, to_id: str) -> None:
        obj = self.objects[object_type][object_id]
        obj.setdefault("links", {}).setdefault(to_type, []).append(to_id)

    def patched(self, object_type: str) -> list[dict[str, Any]]:
        return [r.json()["properties"] for r in self.calls("PATCH", f"/crm/v3/objects/{object_type}/")]

    @staticmethod
    def error(status: int, category: str, message: str) -> FakeResponse:
        return FakeResponse(status, {"status": "error", "message": message, "correlationId": uuid.uuid4().hex,
                                     "category": category})

    def setup_routes(self) -> None:
        self.route("GET", "/account-info/v3/details", self._account)
        self.route("GET", "/crm/v3/objects/(?P<type>[a-z]+)/(?P<id>[^/]+)", self._get)
        self.route("GET", "/crm/v4/objects/(?P<type>[a-z]+)/(?P<id>[^/]+)/associations/(?P<to>[a-z]+)",
                   self._associations)
        self.route("PATCH", "/crm/v3/objects/(?P<type>[a-z]+)/(?P<id>[^/]+)", self._patch)
        self.route("POST", "/crm/v3/objects/(?P<type>[a-z]+)/search", self._search)
        self.route("POST", "/crm/v3/objects/(?P<type>[a-z]+)", self._create)

    def _account(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        """https://developers.hubspot.com/docs/api/settings/account-information-api"""
        if self.access_token is not None and req.headers.get("authorization") != f"Bearer {self.access_token}":
            return self.error(401, "INVALID_AUTHENTICATION", "Authentication credentials not found.")
        return FakeResponse(200, {"portalId": 62515, "accountType": "STANDARD", "timeZone": "US/Eastern",
                                  "companyCurrency": "USD", "uiDomain": "app.hubspot.com",
                                  "dataHostingLocation": "na1"})

    def _get(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        obj = self.objects.get(m["type"], {}).get(m["id"])
        if obj is None:
            return self.error(404, "OBJECT_NOT_FOUND", "resource not found")
        wanted = (req.query.get("properties") or "").split(",")
        body: dict[str, Any] = {"id": m["id"], "properties": {k: v for k, v in obj["properties"].items()
                                                              if k in wanted}}
        for to_type in filter(None, (req.query.get("associations") or "").split(",")):
            ids = obj.get("links", {}).get(to_type, [])
            body.setdefault("associations", {})[to_type] = {"results": [{"id": i, "type": "x_to_y"} for i in ids]}
        return FakeResponse(200, body)

    def _associations(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        """v4 list associations: {"results": [{"toObjectId", "associationTypes": [{category, typeId, label}]}]};
        404 OBJECT_NOT_FOUND for an unknown object (the shape of HubSpot's v4 associations reference)."""
        obj = self.objects.get(m["type"], {}).get(m["id"])
        if obj is None:
            return self.error(404, "OBJECT_NOT_FOUND", "resource not found")
        type_id = {"contacts": 200}.get(m["to"], 0) if m["type"] == "meetings" else 0
        ids = obj.get("links", {}).get(m["to"], [])
        return FakeResponse(200, {"results": [
            {"toObjectId": int(i), "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": type_id,
                                                         "label": None}]} for i in ids]})

    def _patch(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        obj = self.objects.get(m["type"], {}).get(m["id"])
        if obj is None:
            return self.error(404, "OBJECT_NOT_FOUND", "resource not found")
        obj["properties"].update(req.json()["properties"])
        return FakeResponse(200, {"id": m["id"], "properties": obj["properties"]})

    def _create(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        body = req.json()
        if "hs_timestamp" not in body.get("properties", {}) and m["type"] in ("meetings", "tasks", "notes"):
            return self.error(400, "VALIDATION_ERROR", "Property values were not valid")
        new_id = str(100000 + sum(len(v) for v in self.objects.values()))
        links: dict[str, list[str]] = {}
        for a in body.get("associations", []):
            for t in a.get("types") or []:
                links.setdefault(ASSOCIATION_TARGETS.get(t.get("associationTypeId"), "unknown"), []).append(
                    str(a["to"]["id"]))
        self.objects.setdefault(m["type"], {})[new_id] = {"properties": body["properties"],
                                                          "associations": body.get("associations", []),
                                                          "links": links}
        return FakeResponse(201, {"id": new_id, "properties": body["properties"]})

    def _search(self, req: RecordedRequest, m: re.Match[str]) -> FakeResponse:
        body = req.json()
        results = []
        for obj_id, obj in self.objects.get(m["type"], {}).items():
            ok = True
            for f in body["filterGroups"][0]["filters"]:
                value = str(obj["properties"].get(f["propertyName"], ""))
                if f["operator"] == "CONTAINS_TOKEN":
                    ok = ok and f["value"] in re.split(r"[^A-Za-z0-9]+", value)
                elif f["operator"] == "GT":
                    ok = ok and value > f["value"]
                elif f["operator"] == "EQ":
                    ok = ok and value.lower() == str(f["value"]).lower()
            if ok:
                results.append({"id": obj_id, "properties": obj["properties"]})
        return FakeResponse(200, {"total": len(results), "results": results})
