"""Mindbody Public API v6 client: staff user token, appointments, bookable items, class visits and clients.

References (Mindbody's published v6 Swagger document, as generated into its Python client, and the API docs at
https://developers.mindbodyonline.com/PublicDocumentation/V6):
- Base URL `https://api.mindbodyonline.com/public/v6`; every call sends `Api-Key` and `SiteId`; business-mode
  calls add `Authorization: <staff user token>` from `POST /usertoken/issue` (`{"Username", "Password"}`,
  answered with `AccessToken`). A 401 means the token lapsed: it is issued once more and the call repeated.
- `GET /appointment/staffappointments` (`request.startDate`, `request.endDate`, `request.clientIds`,
  `request.limit`, `request.offset`) -> `{"PaginationResponse": {"TotalResults", ...}, "Appointments": [...]}`
  (Appointment: `Id`, `Status`, `StartDateTime`, `EndDateTime`, `ClientId`, `StaffId`, `LocationId`,
  `SessionTypeId`, `Notes`).
- `GET /appointment/bookableitems` (`request.sessionTypeIds` required, `request.locationIds`, `request.staffIds`,
  `request.startDate`, `request.endDate`) -> `{"Availabilities": [{"Staff": {"Id"}, "Location": {"Id"},
  "SessionType": {"Id"}, "StartDateTime", "EndDateTime", "BookableEndDateTime"}]}`.
- `POST /appointment/addappointment` (`ClientId`, `LocationId`, `SessionTypeId`, `StaffId`, `StartDateTime`,
  `Notes`, `SendEmail`) and `POST /appointment/updateappointment` (`AppointmentId`, `Execute`, ...), both
  answered `{"Appointment": {...}}`.
- `GET /class/classes` (`request.startDateTime`, `request.endDateTime`) and `GET /class/classvisits`
  (`request.classID`, `request.lastModifiedDate`) -> `{"Class": {"Visits": [...]}}` (Visit: `Id`, `ClassId`,
  `ClientId`, `StartDateTime`, `EndDateTime`, `SignedIn`, `LateCancelled`, `LastModifiedDateTime`).
- `GET /client/clients` (`request.clientIDs`, repeated) -> `{"Clients": [{"Id", "FirstName", "LastName",
  "Email", "MobilePhone"}]}`.
- `POST /client/addclient` (`FirstName`, `LastName`, `Email`, `MobilePhone`) -> `{"Client": {"Id", ...}}`.
- `GET /site/sites` -> `{"Sites": [{"Id", "Name", ...}]}`.
- Paging: `request.limit` (default 100) and `request.offset` (default 0).

Times in requests and answers carry no offset: they are the site's local time (NOSHOW_MINDBODY_TIME_ZONE).
UNVERIFIED: that the times are site-local rather than UTC, the `{"Error": {"Message", "Code"}}` shape of refusals
(only the status and `Code` reach an exception: messages can name a client), the `Execute` value that cancels an
appointment (`Cancel`, by analogy with the documented visit actions `Cancel`, `Latecancel`), the token's
lifetime, and Mindbody's answer when a time is no longer bookable (read here as any 400 once the bookable items
no longer offer the time). Mindbody has no idempotency key: a booking carries `(ref nsk...)` in its notes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from connectors.contract import PermanentProviderError
from connectors.http import JsonApi, check
from connectors.mindbody.inbound import site_time
from connectors.mindbody.settings import DEFAULT_BASE_URL

PAGE = 100
_REFUSALS = (400, 401, 403, 404, 409, 422)


def mindbody_code(response: httpx.Response) -> str:
    """Mindbody's error `Code` (else the status), never its message."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("Error") if isinstance(body, dict) else None
    code = error.get("Code") if isinstance(error, dict) else None
    return str(code) if code else str(response.status_code)


class MindbodyClient(JsonApi):
    """`username` / `password`: the staff login for business-mode calls (appointments of every staff member)."""

    provider = "mindbody"
    rate_limit = (10.0, 1.0)  # UNVERIFIED: Mindbody publishes a daily call allowance per plan, not a burst rate

    def __init__(self, api_key: str, site_id: str, username: str | None = None, password: str | None = None,
                 base_url: str = DEFAULT_BASE_URL, time_zone: str = "UTC", timeout: float = 10.0,
                 http: httpx.Client | None = None) -> None:
        if not api_key or not site_id:
            raise ValueError("Mindbody needs an API key and a site id")
        super().__init__(base_url.rstrip("/"), {"Api-Key": api_key, "SiteId": str(site_id),
                                                "Accept": "application/json"}, timeout, http)
        self.username, self.password = username, password
        self.zone = ZoneInfo(time_zone)
        self._token: str | None = None
        self._token_lock = threading.Lock()

    # ------------------------------------------------------------------ times
    def local(self, at: datetime) -> str:
        """A time as the site's local wall clock, the way the API reads it."""
        return at.astimezone(self.zone).replace(tzinfo=None).isoformat(timespec="seconds")

    def parse(self, value: Any) -> datetime | None:
        """A time the API answered: site-local when it carries no offset."""
        return site_time(value, self.zone)

    # ------------------------------------------------------------------ auth
    def issue_token(self) -> str:
        if not (self.username and self.password):
            raise PermanentProviderError("mindbody: business-mode calls need NOSHOW_MINDBODY_USERNAME and "
                                         "NOSHOW_MINDBODY_PASSWORD", code="no_credentials")
        response = super().request("POST", "/usertoken/issue", json_body={
            "Username": self.username, "Password": self.password}, ok=_REFUSALS)
        if response.status_code in _REFUSALS:
            raise PermanentProviderError(f"mindbody HTTP {response.status_code} issuing the user token",
                                         code=mindbody_code(response))
        body = response.json() if response.content else {}
        token = body.get("AccessToken") if isinstance(body, dict) else None
        if not token:
            raise PermanentProviderError("mindbody: the user token answer has no AccessToken", code="no_token")
        return str(token)

    def token(self, renew: bool = False) -> str:
        with self._token_lock:
            if renew or self._token is None:
                self._token = self.issue_token()
            return self._token

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        extra = dict(kwargs.pop("headers", None) or {})
        ok = tuple(kwargs.pop("ok", ()))
        renewed = False
        while True:
            token = self.token(renew=renewed)
            response = super().request(method, path, headers={"Authorization": token, **extra},
                                       ok=(*ok, *_REFUSALS), **kwargs)
            if response.status_code == 401 and not renewed:
                renewed = True  # the staff token lapsed: issue a new one, then the call again
                continue
            if response.status_code in _REFUSALS and response.status_code not in ok:
                code = mindbody_code(response)
                raise PermanentProviderError(f"mindbody HTTP {response.status_code} ({code})", code=code)
            return check(response, self.provider, ok)

    # ------------------------------------------------------------------ reads
    def _pages(self, path: str, key: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            body = self.call("GET", path, params={**params, "request.limit": PAGE, "request.offset": offset})
            rows = body.get(key) if isinstance(body, dict) else None
            items = [r for r in rows or [] if isinstance(r, dict)]
            yield from items
            paging = body.get("PaginationResponse") if isinstance(body, dict) else None
            total = paging.get("TotalResults") if isinstance(paging, dict) else None
            offset += len(items)
            if not items or len(items) < PAGE or (isinstance(total, int) and offset >= total):
                return

    def staff_appointments(self, start: datetime, end: datetime, client_ids: list[str] | None = None
                           ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"request.startDate": self.local(start), "request.endDate": self.local(end)}
        if client_ids:
            params["request.clientIds"] = list(client_ids)
        return list(self._pages("/appointment/staffappointments", "Appointments", params))

    def bookable_items(self, session_type_id: str, start: datetime, end: datetime, location_id: str | None = None,
                       staff_id: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"request.sessionTypeIds": [session_type_id], "request.startDate": self.local(start),
                                  "request.endDate": self.local(end)}
        if location_id:
            params["request.locationIds"] = [location_id]
        if staff_id:
            params["request.staffIds"] = [staff_id]
        return list(self._pages("/appointment/bookableitems", "Availabilities", params))

    def classes(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        return list(self._pages("/class/classes", "Classes", {
            "request.startDateTime": self.local(start), "request.endDateTime": self.local(end)}))

    def class_visits(self, class_id: str, modified_since: datetime | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"request.classID": class_id}
        if modified_since is not None:
            params["request.lastModifiedDate"] = self.local(modified_since)
        body = self.call("GET", "/class/classvisits", params=params)
        cls = body.get("Class") if isinstance(body, dict) else None
        visits = cls.get("Visits") if isinstance(cls, dict) else None
        return [v for v in visits or [] if isinstance(v, dict)]

    def clients(self, client_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The clients by id (only those Mindbody knows)."""
        if not client_ids:
            return {}
        found = self._pages("/client/clients", "Clients", {"request.clientIDs": list(client_ids)})
        return {str(c["Id"]): c for c in found if c.get("Id") is not None}

    def sites(self) -> list[dict[str, Any]]:
        """`GET /site/sites`: the site the API key and site id open (the live probe's read)."""
        body = self.call("GET", "/site/sites")
        rows = body.get("Sites") if isinstance(body, dict) else None
        return [r for r in rows or [] if isinstance(r, dict)]

    # ------------------------------------------------------------------ writes
    def add_appointment(self, body: dict[str, Any]) -> dict[str, Any]:
        made = self.call("POST", "/appointment/addappointment", json_body=body, ambiguous_after_send=True)
        appointment = made.get("Appointment") if isinstance(made, dict) else None
        if not isinstance(appointment, dict) or appointment.get("Id") is None:
            raise PermanentProviderError("mindbody: the booking answered no appointment id", code="no_id")
        return appointment

    def add_client(self, first: str, last: str, email: str, mobile_phone: str) -> str:
        """`POST /client/addclient` (the demo's client); returns the new client's `Id`."""
        made = self.call("POST", "/client/addclient", json_body={
            "FirstName": first, "LastName": last, "Email": email, "MobilePhone": mobile_phone})
        client = made.get("Client") if isinstance(made, dict) else None
        if not isinstance(client, dict) or client.get("Id") is None:
            raise PermanentProviderError("mindbody: the new client answered no id", code="no_id")
        return str(client["Id"])

    def update_appointment(self, body: dict[str, Any]) -> dict[str, Any]:
        made = self.call("POST", "/appointment/updateappointment", json_body=body)
        appointment = made.get("Appointment") if isinstance(made, dict) else None
        return appointment if isinstance(appointment, dict) else {}
