"""ServiceTitan API v2 client (JPM, CRM and Task Management) with the client-credentials token and the app key.

References (ServiceTitan's developer portal, https://developer.servicetitan.io/apis/, OpenAPI files
`tenant-jpm-v2`, `tenant-crm-v2`, `tenant-task-management-v2`):
- Base `https://api.servicetitan.io` (integration `https://api-integration.servicetitan.io`); every call sends
  `Authorization: Bearer <token>` and `ST-App-Key: <app key>` (the specs' `bearerToken` and `appKey`
  security schemes); the tenant id is a path segment: `/jpm/v2/tenant/{tenant}/...`.
- Token: only the client-credentials grant, per tenant (https://developer.servicetitan.io/docs/oauth20),
  `POST https://auth.servicetitan.io/connect/token` form `grant_type=client_credentials&client_id&client_secret`
  (UNVERIFIED: the token host is taken from a community client, not ServiceTitan's own text; so are the token
  lifetime and any scope string: none is sent).
- Lists are paged: `page` (from 1), `pageSize` (50 by default), answered `{"page", "pageSize", "hasMore",
  "totalCount"?, "data": [...]}`; datetimes RFC 3339 UTC. UNVERIFIED: the largest `pageSize` tenant APIs take
  (5000 is documented for the partner APIs only), so 200 is asked.
- `GET /jpm/v2/tenant/{tenant}/appointments` (`modifiedOnOrAfter`, `ids`, `jobId`, `status`, ...) ->
  `{id, jobId, appointmentNumber, start, end, arrivalWindowStart, arrivalWindowEnd, status, createdOn,
  modifiedOn}`; status `Scheduled`, `Dispatched`, `Working`, `Hold`, `Done`, `Canceled`.
- `GET /jpm/v2/tenant/{tenant}/jobs?ids=` (at most 50 ids) -> `{id, jobNumber, customerId, locationId, jobStatus,
  businessUnitId, jobTypeId, ...}`; `GET /jpm/v2/tenant/{tenant}/jobs/cancel-reasons?ids=<job ids>` (at most 50)
  -> `{"data": [{"jobId", "reasonId", "name", "text"}]}`.
- `PUT /jpm/v2/tenant/{tenant}/jobs/{id}/cancel` `{"reasonId", "memo"}` (both required);
  `PATCH /jpm/v2/tenant/{tenant}/appointments/{id}/reschedule` `{"start", "end", "arrivalWindowStart"?,
  "arrivalWindowEnd"?}` (409 when the time conflicts); `PUT /jpm/v2/tenant/{tenant}/appointments/{id}/hold`
  `{"reasonId", "memo"}`; `POST /jpm/v2/tenant/{tenant}/jobs/{id}/notes` `{"text", "pinToTop"}`.
- Customer notes: `POST /crm/v2/tenant/{tenant}/customers/{id}/notes` `{"text", "pinToTop"}` and its paged `GET`,
  answered `{text, isPinned, createdById, createdOn, modifiedOn}` (a note has no id).
- `GET /crm/v2/tenant/{tenant}/customers/{id}` (`name`, ...) and `.../customers/{id}/contacts` -> `{"data":
  [{"id", "type": Phone | Email | Fax | MobilePhone, "value", "memo"}]}`.
- Creates (the demo's records): `POST /crm/v2/tenant/{tenant}/customers` (required `name`, `address {street, city,
  state, zip, country}`, `locations [{name, address}]`; optional `type`, `contacts [{type, value}]`) answering the
  customer with its `locations [{id, ...}]`; `POST /jpm/v2/tenant/{tenant}/jobs` (required `customerId`,
  `locationId`, `businessUnitId`, `jobTypeId`, `priority`, `campaignId`, `appointments [{start, end}]`) answering
  `Crm.V2.JobResponse` with `firstAppointmentId`.
- `POST /taskmanagement/v2/tenant/{tenant}/tasks` (required `reportedById`, `assignedToId`, `isClosed`, `name`,
  `businessUnitId`, `employeeTaskTypeId`, `employeeTaskSourceId`, `reportedDate`, `priority`; optional
  `customerId`, `jobId`, `description`, `completeBy`); `GET /taskmanagement/v2/tenant/{tenant}/tasks` (paged;
  `jobId`, `customerId`, `name`, `ids`, ... filters) lists them (UNVERIFIED: the list and its `jobId` filter are
  read from a third-party client of the `tenant-task-management-v2` spec, not from ServiceTitan's own text).
- `GET /jpm/v2/tenant/{tenant}/appointments/{id}` -> one appointment (its `jobId`).
- Refusals are `{"type", "title", "status", "traceId", "errors": {field: [message]}, "data"}`; messages can echo
  input, so only the status reaches an exception. Rate limit: UNVERIFIED (60 requests per second per app and
  tenant, from a third-party summary).
ServiceTitan has no idempotency key on creates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.contract import PermanentProviderError, SlotUnavailable
from connectors.http import segment
from connectors.oauth import BearerJsonApi, TokenManager, TokenSource

BASE_URL = "https://api.servicetitan.io"
TOKEN_URL = "https://auth.servicetitan.io/connect/token"
PAGE_SIZE = 200
MAX_IDS = 50


def st_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _chunks(ids: Iterable[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(i for i in ids if i.isdigit()))
    return [unique[i:i + MAX_IDS] for i in range(0, len(unique), MAX_IDS)]


class ServiceTitanClient(BearerJsonApi):
    provider = "servicetitan"
    rate_limit = (60.0, 1.0)

    def __init__(self, token: TokenSource, app_key: str, tenant_id: str, base_url: str = BASE_URL,
                 timeout: float = 10.0, http: httpx.Client | None = None) -> None:
        if not app_key:
            raise ValueError("ServiceTitan needs the app key (ST-App-Key)")
        if not str(tenant_id).strip().isdigit():
            raise ValueError("the ServiceTitan tenant id is a number")
        super().__init__(token, base_url, timeout, http)
        self.headers.update({"Accept": "application/json", "ST-App-Key": app_key})
        self.tenant = str(tenant_id).strip()

    def path(self, api: str, rest: str) -> str:
        return f"/{api}/v2/tenant/{self.tenant}/{rest.lstrip('/')}"

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        ok = tuple(kwargs.pop("ok", ()))
        response = super().request(method, path, ok=(*ok, *_REFUSALS), **kwargs)
        if response.status_code == 401 and isinstance(self._token, TokenManager):
            self._token.invalidate()  # refused before its expiry: one new token, then the call once more
            response = super().request(method, path, ok=(*ok, *_REFUSALS), **kwargs)
        if response.status_code in _REFUSALS and response.status_code not in ok:
            code = _NAMES[response.status_code]
            raise PermanentProviderError(f"servicetitan HTTP {response.status_code} ({code})", code=code)
        return response

    def pages(self, path: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every row of a paged list, page after page while `hasMore`."""
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self.call("GET", path, params={**(params or {}), "page": page, "pageSize": PAGE_SIZE})
            rows = body.get("data") if isinstance(body, dict) else None
            out.extend(r for r in rows or [] if isinstance(r, dict))
            if not (isinstance(body, dict) and body.get("hasMore") is True and rows):
                return out
            page += 1

    # ------------------------------------------------------------------ reads
    def appointments(self, modified_on_or_after: datetime, **filters: Any) -> list[dict[str, Any]]:
        return self.pages(self.path("jpm", "appointments"), {"modifiedOnOrAfter": st_time(modified_on_or_after),
                                                              "sort": "+Id", **filters})

    def jobs(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(ids):
            for row in self.pages(self.path("jpm", "jobs"), {"ids": ",".join(chunk)}):
                found[str(row.get("id"))] = row
        return found

    def cancel_reasons(self, job_ids: Iterable[str]) -> dict[str, str]:
        """Job id -> the id of the reason it was cancelled with."""
        found: dict[str, str] = {}
        for chunk in _chunks(job_ids):
            body = self.call("GET", self.path("jpm", "jobs/cancel-reasons"), params={"ids": ",".join(chunk)})
            for row in (body.get("data") if isinstance(body, dict) else None) or []:
                if isinstance(row, dict) and row.get("jobId") is not None and row.get("reasonId") is not None:
                    found[str(row["jobId"])] = str(row["reasonId"])
        return found

    def appointment(self, appointment_id: str) -> dict[str, Any]:
        body = self.call("GET", self.path("jpm", f"appointments/{segment(appointment_id)}"))
        return body if isinstance(body, dict) else {}

    def job_tasks(self, job_id: str) -> list[dict[str, Any]]:
        """The tasks filed on a job (open and closed)."""
        return self.pages(self.path("taskmanagement", "tasks"), {"jobId": job_id})

    def customer(self, customer_id: str) -> dict[str, Any]:
        body = self.call("GET", self.path("crm", f"customers/{segment(customer_id)}"))
        return body if isinstance(body, dict) else {}

    def customer_contacts(self, customer_id: str) -> list[dict[str, Any]]:
        return self.pages(self.path("crm", f"customers/{segment(customer_id)}/contacts"))

    def probe(self) -> int:
        """A read-only call that proves the token, the app key and the tenant: the number of appointments seen."""
        body = self.call("GET", self.path("jpm", "appointments"), params={"page": 1, "pageSize": 1})
        rows = body.get("data") if isinstance(body, dict) else None
        return len(rows) if isinstance(rows, list) else 0

    # ------------------------------------------------------------------ writes
    def cancel_job(self, job_id: str, reason_id: str, memo: str) -> None:
        if not reason_id.isdigit():
            raise PermanentProviderError("servicetitan: a job cancel needs a numeric reason id", code="no_reason")
        self.call("PUT", self.path("jpm", f"jobs/{segment(job_id)}/cancel"),
                  json_body={"reasonId": int(reason_id), "memo": memo})

    def reschedule(self, appointment_id: str, start: datetime, end: datetime,
                   arrival_window: tuple[datetime, datetime] | None = None) -> dict[str, Any]:
        fields: dict[str, Any] = {"start": st_time(start), "end": st_time(end)}
        if arrival_window is not None:
            fields |= {"arrivalWindowStart": st_time(arrival_window[0]), "arrivalWindowEnd": st_time(arrival_window[1])}
        try:
            body = self.call("PATCH", self.path("jpm", f"appointments/{segment(appointment_id)}/reschedule"),
                             json_body=fields)
        except PermanentProviderError as exc:
            if exc.code == "conflict":
                raise SlotUnavailable("servicetitan: the new time conflicts") from None
            raise
        return body if isinstance(body, dict) else {}

    def hold(self, appointment_id: str, reason_id: str, memo: str) -> None:
        if not reason_id.isdigit():
            raise PermanentProviderError("servicetitan: a hold needs a numeric reason id", code="no_reason")
        self.call("PUT", self.path("jpm", f"appointments/{segment(appointment_id)}/hold"),
                  json_body={"reasonId": int(reason_id), "memo": memo})

    def add_job_note(self, job_id: str, text: str, pin: bool = False) -> dict[str, Any]:
        body = self.call("POST", self.path("jpm", f"jobs/{segment(job_id)}/notes"),
                         json_body={"text": text, "pinToTop": pin}, ambiguous_after_send=True)
        return body if isinstance(body, dict) else {}

    def add_customer_note(self, customer_id: str, text: str) -> dict[str, Any]:
        body = self.call("POST", self.path("crm", f"customers/{segment(customer_id)}/notes"),
                         json_body={"text": text, "pinToTop": False}, ambiguous_after_send=True)
        return body if isinstance(body, dict) else {}

    def customer_notes(self, customer_id: str) -> list[dict[str, Any]]:
        return self.pages(self.path("crm", f"customers/{segment(customer_id)}/notes"))

    def create_customer(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        body = self.call("POST", self.path("crm", "customers"), json_body=dict(fields), ambiguous_after_send=True)
        return body if isinstance(body, dict) else {}

    def create_job(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        body = self.call("POST", self.path("jpm", "jobs"), json_body=dict(fields), ambiguous_after_send=True)
        return body if isinstance(body, dict) else {}

    def create_task(self, fields: Mapping[str, Any]) -> str:
        body = self.call("POST", self.path("taskmanagement", "tasks"), json_body=dict(fields),
                         ambiguous_after_send=True)
        if not isinstance(body, dict) or body.get("id") is None:
            raise PermanentProviderError("servicetitan: the task create answered no id", code="no_id")
        return str(body["id"])


# 4xx refusals mapped here (not 408 / 429, which stay retryable in the shared mapping)
_REFUSALS = frozenset({400, 401, 403, 404, 405, 409, 415, 422})
_NAMES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 415: "unsupported_media_type", 422: "unprocessable_entity"}
