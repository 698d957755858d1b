"""A fake ServiceTitan tenant: the client-credentials token endpoint and the JPM / CRM / Task Management v2
resources the connector uses, from the v2 OpenAPI files (https://developer.servicetitan.io/apis/).

- `POST /connect/token` form `grant_type=client_credentials&client_id&client_secret` -> `{"access_token",
  "expires_in": 900, "token_type": "Bearer"}`; a wrong client is 400 `{"error": "invalid_client"}`.
- Every API call needs `Authorization: Bearer <issued token>` and `ST-App-Key`; without them 401 (the error body
  `{"type", "title", "status", "traceId"}`); a path for another tenant is 404.
- `GET /jpm/v2/tenant/{t}/appointments` (`modifiedOnOrAfter`, `page` from 1, `pageSize`) -> `{"page",
  "pageSize", "hasMore", "data"}`; `GET .../jobs?ids=` (at most 50, else 400); `GET .../jobs/cancel-reasons?ids=`
  -> `{"data": [{"jobId", "reasonId", "name", "text"}]}`.
- `PUT .../jobs/{id}/cancel` (`reasonId` and `memo` required, else 400 with `errors`) cancels the job and its
  appointments; `PATCH .../appointments/{id}/reschedule` (409 when another appointment holds the time);
  `PUT .../appointments/{id}/hold` (`reasonId`, `memo`); `POST .../jobs/{id}/notes` (`text` required).
- `GET /crm/v2/tenant/{t}/customers/{id}`, `.../contacts`, `POST`/`GET .../notes` (`text` required; a note
  has no id); `POST /taskmanagement/v2/tenant/{t}/tasks` (the
  spec's required fields, else 400) and its paged `GET` (filters `jobId`, `customerId`, `ids`).
- `GET /jpm/v2/tenant/{t}/appointments/{id}` -> the appointment, 404 when there is none.
- `lose_task_answers`: that many task creates are made and then answered 504, as a gateway that timed out while
  ServiceTitan finished the create.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from connectors.inbound import opt_dt
from tests.fakes.base import FakeResponse, FakeServer, Handler, RecordedRequest

JOB_REQUIRED = ("customerId", "locationId", "businessUnitId", "jobTypeId", "priority", "campaignId", "appointments")
TASK_REQUIRED = ("reportedById", "assignedToId", "isClosed", "name", "businessUnitId", "employeeTaskTypeId",
                 "employeeTaskSourceId", "reportedDate", "priority")


def st_error(status: int, title: str, errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"type": "https://tools.ietf.org/html/rfc7231", "title": title, "status": status,
            "traceId": "00-fake-trace-00", "errors": errors or {}, "data": {}}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeServiceTitan(FakeServer):
    def __init__(self, tenant: str = "123456", client_id: str = "cid.st", client_secret: str = "st-secret",
                 app_key: str = "ak1.st-app-key", page_size_cap: int = 50, access_token: str | None = None) -> None:
        self.tenant, self.client_id, self.client_secret, self.app_key = tenant, client_id, client_secret, app_key
        self.page_size_cap = page_size_cap
        self.issued: set[str] = {access_token} if access_token else set()
        self.appointments: dict[int, dict[str, Any]] = {}
        self.jobs: dict[int, dict[str, Any]] = {}
        self.customers: dict[int, dict[str, Any]] = {}
        self.contacts: dict[int, list[dict[str, Any]]] = {}
        self.cancel_reasons: dict[int, int] = {}
        self.notes: dict[int, list[dict[str, Any]]] = {}
        self.customer_notes: dict[int, list[dict[str, Any]]] = {}
        self.tasks: dict[int, dict[str, Any]] = {}
        self.lose_task_answers = 0
        self.reasons = {7: "No access - customer not home", 8: "Customer cancelled", 9: "Tech could not get in"}
        self._n = itertools.count(5000)
        super().__init__()

    # ------------------------------------------------------------ helpers for tests
    def add_customer(self, name: str, email: str, phone: str) -> int:
        cid = next(self._n)
        self.customers[cid] = {"id": cid, "name": name, "active": True, "type": "Residential"}
        self.contacts[cid] = [{"id": next(self._n), "type": "Email", "value": email, "memo": None},
                              {"id": next(self._n), "type": "MobilePhone", "value": phone, "memo": None}]
        return cid

    def add_job(self, customer_id: int, start: datetime, end: datetime, status: str = "Scheduled") -> tuple[int, int]:
        """A job with one appointment: (job id, appointment id)."""
        jid, aid = next(self._n), next(self._n)
        self.jobs[jid] = {"id": jid, "jobNumber": str(jid), "customerId": customer_id, "locationId": 31,
                          "jobStatus": "Scheduled", "businessUnitId": 11, "jobTypeId": 21, "priority": "Normal",
                          "campaignId": 41, "createdOn": _now(), "modifiedOn": _now(), "firstAppointmentId": aid}
        self.appointments[aid] = {"id": aid, "jobId": jid, "appointmentNumber": f"{jid}-1",
                                  "start": start.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                                  "end": end.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                                  "arrivalWindowStart": None, "arrivalWindowEnd": None, "status": status,
                                  "specialInstructions": None, "createdOn": _now(), "modifiedOn": _now()}
        return jid, aid

    def setup_routes(self) -> None:
        self.route("POST", "/connect/token", self._token)
        for method, path, handler in (
                ("GET", "/appointments", self._appointments), ("GET", "/jobs/cancel-reasons", self._job_reasons),
                ("GET", "/jobs", self._jobs), ("PUT", r"/jobs/(?P<id>[^/]+)/cancel", self._cancel),
                ("POST", r"/jobs/(?P<id>[^/]+)/notes", self._note),
                ("PATCH", r"/appointments/(?P<id>[^/]+)/reschedule", self._reschedule),
                ("PUT", r"/appointments/(?P<id>[^/]+)/hold", self._hold),
                ("GET", r"/customers/(?P<id>[^/]+)/contacts", self._contacts),
                ("POST", r"/customers/(?P<id>[^/]+)/notes", self._add_customer_note),
                ("GET", r"/customers/(?P<id>[^/]+)/notes", self._customer_notes),
                ("GET", r"/customers/(?P<id>[^/]+)", self._customer), ("POST", "/tasks", self._task),
                ("GET", "/tasks", self._task_list), ("GET", r"/appointments/(?P<id>\d+)", self._get_appointment),
                ("POST", "/customers", self._create_customer), ("POST", "/jobs", self._create_job)):
            self.route(method, r"/(?P<api>jpm|crm|taskmanagement)/v2/tenant/(?P<tenant>[^/]+)" + path,
                       self._authed(handler))

    def _authed(self, handler: Handler) -> Handler:
        """Every tenant API call: the bearer token and the app key first, then the tenant in the path."""
        def checked(req: RecordedRequest, m: Any) -> FakeResponse:
            return self._refused(req, m) or handler(req, m)
        return checked

    # ------------------------------------------------------------ plumbing
    def _token(self, req: RecordedRequest, m: Any) -> FakeResponse:
        form = req.form()
        if form.get("grant_type") != "client_credentials":
            return FakeResponse(400, {"error": "unsupported_grant_type"})
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return FakeResponse(400, {"error": "invalid_client"})
        token = f"st-access-{len(self.issued) + 1}"
        self.issued.add(token)
        return FakeResponse(200, {"access_token": token, "expires_in": 900, "token_type": "Bearer",
                                  "scope": "tn.jpm.jobs:r"})

    def _refused(self, req: RecordedRequest, m: Any) -> FakeResponse | None:
        if req.headers.get("authorization", "").removeprefix("Bearer ") not in self.issued or \
                req.headers.get("st-app-key") != self.app_key:
            return FakeResponse(401, st_error(401, "Unauthorized"))
        if m["tenant"] != self.tenant:
            return FakeResponse(404, st_error(404, "Tenant not found"))
        return None

    def _page(self, req: RecordedRequest, rows: list[dict[str, Any]]) -> FakeResponse:
        page = int(req.query.get("page") or 1)
        size = min(int(req.query.get("pageSize") or 50), self.page_size_cap)
        chunk = rows[(page - 1) * size: page * size]
        return FakeResponse(200, {"page": page, "pageSize": size, "hasMore": page * size < len(rows),
                                  "data": chunk})

    @staticmethod
    def _ids(req: RecordedRequest) -> list[int] | None:
        ids = [i for i in (req.query.get("ids") or "").split(",") if i]
        return [int(i) for i in ids] if len(ids) <= 50 and all(i.isdigit() for i in ids) else None

    # ------------------------------------------------------------ JPM
    def _appointments(self, req: RecordedRequest, m: Any) -> FakeResponse:
        since = opt_dt(req.query.get("modifiedOnOrAfter"))
        rows = [a for _, a in sorted(self.appointments.items())
                if since is None or (opt_dt(a["modifiedOn"]) or since) >= since]
        return self._page(req, rows)

    def _get_appointment(self, req: RecordedRequest, m: Any) -> FakeResponse:
        found = self._appointment(m)
        return FakeResponse(200, found) if found else FakeResponse(404, st_error(404, "Appointment not found"))

    def _jobs(self, req: RecordedRequest, m: Any) -> FakeResponse:
        ids = self._ids(req)
        if ids is None:
            return FakeResponse(400, st_error(400, "Validation failed", {"ids": ["at most 50 ids"]}))
        return self._page(req, [self.jobs[i] for i in ids if i in self.jobs] if ids else list(self.jobs.values()))

    def _job_reasons(self, req: RecordedRequest, m: Any) -> FakeResponse:
        ids = self._ids(req)
        if not ids:
            return FakeResponse(400, st_error(400, "Validation failed", {"ids": ["required, at most 50"]}))
        rows = [{"jobId": j, "reasonId": self.cancel_reasons[j], "name": self.reasons.get(self.cancel_reasons[j]),
                 "text": None} for j in ids if j in self.cancel_reasons]
        return FakeResponse(200, {"page": 1, "pageSize": 50, "hasMore": False, "data": rows})

    def _job(self, m: Any) -> dict[str, Any] | None:
        job_id = m["id"]
        return self.jobs.get(int(job_id)) if job_id.isdigit() else None

    def _cancel(self, req: RecordedRequest, m: Any) -> FakeResponse:
        job, body = self._job(m), req.json() or {}
        if job is None:
            return FakeResponse(404, st_error(404, "Job not found"))
        if not isinstance(body.get("reasonId"), int) or not isinstance(body.get("memo"), str):
            return FakeResponse(400, st_error(400, "Validation failed", {"reasonId": ["required"],
                                                                         "memo": ["required"]}))
        self.cancel_job(job["id"], body["reasonId"])
        return FakeResponse(200, None)

    def cancel_job(self, job_id: int, reason_id: int) -> None:
        """The job and its appointments Canceled with a reason, as the office's cancel (or the API's) leaves them."""
        job = self.jobs[job_id]
        job["jobStatus"], job["modifiedOn"] = "Canceled", _now()
        self.cancel_reasons[job_id] = reason_id
        for a in self.appointments.values():
            if a["jobId"] == job_id:
                a["status"], a["modifiedOn"] = "Canceled", _now()

    def _note(self, req: RecordedRequest, m: Any) -> FakeResponse:
        job, body = self._job(m), req.json() or {}
        if job is None:
            return FakeResponse(404, st_error(404, "Job not found"))
        if not isinstance(body.get("text"), str) or not body["text"]:
            return FakeResponse(400, st_error(400, "Validation failed", {"text": ["required"]}))
        note = {"text": body["text"], "isPinned": bool(body.get("pinToTop")), "createdById": 1, "createdOn": _now()}
        self.notes.setdefault(job["id"], []).append(note)
        return FakeResponse(200, note)

    def _appointment(self, m: Any) -> dict[str, Any] | None:
        return self.appointments.get(int(m["id"])) if m["id"].isdigit() else None

    def _reschedule(self, req: RecordedRequest, m: Any) -> FakeResponse:
        a, body = self._appointment(m), req.json() or {}
        if a is None:
            return FakeResponse(404, st_error(404, "Appointment not found"))
        start, end = opt_dt(body.get("start")), opt_dt(body.get("end"))
        if start is None or end is None or end <= start:
            return FakeResponse(400, st_error(400, "Validation failed", {"start": ["invalid"]}))
        for other in self.appointments.values():
            if other is not a and other["status"] != "Canceled" and \
                    (opt_dt(other["start"]) or end) < end and start < (opt_dt(other["end"]) or start):
                return FakeResponse(409, st_error(409, "Conflict"))
        self.move(a["id"], start, end)
        return FakeResponse(200, a)

    def move(self, appointment_id: int, start: datetime, end: datetime) -> None:
        """The appointment at a new time, Scheduled, as a dispatcher's (or the API's) reschedule leaves it."""
        self.appointments[appointment_id].update(start=start.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                                                 end=end.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                                                 status="Scheduled", modifiedOn=_now())

    def _hold(self, req: RecordedRequest, m: Any) -> FakeResponse:
        a, body = self._appointment(m), req.json() or {}
        if a is None:
            return FakeResponse(404, st_error(404, "Appointment not found"))
        if not isinstance(body.get("reasonId"), int) or not isinstance(body.get("memo"), str):
            return FakeResponse(400, st_error(400, "Validation failed", {"reasonId": ["required"]}))
        a.update(status="Hold", modifiedOn=_now())
        return FakeResponse(200, None)

    # ------------------------------------------------------------ CRM and tasks
    def _customer(self, req: RecordedRequest, m: Any) -> FakeResponse:
        found = self.customers.get(int(m["id"])) if m["id"].isdigit() else None
        return FakeResponse(200, found) if found else FakeResponse(404, st_error(404, "Customer not found"))

    def _contacts(self, req: RecordedRequest, m: Any) -> FakeResponse:
        if not m["id"].isdigit() or int(m["id"]) not in self.customers:
            return FakeResponse(404, st_error(404, "Customer not found"))
        return self._page(req, self.contacts.get(int(m["id"]), []))

    def _task(self, req: RecordedRequest, m: Any) -> FakeResponse:
        body = req.json() or {}
        missing = [k for k in TASK_REQUIRED if k not in body]
        if missing:
            return FakeResponse(400, st_error(400, "Validation failed", {k: ["required"] for k in missing}))
        tid = next(self._n)
        self.tasks[tid] = {**body, "id": tid, "taskNumber": tid, "createdOn": _now(), "modifiedOn": _now()}
        if self.lose_task_answers > 0:
            self.lose_task_answers -= 1
            return FakeResponse(504, st_error(504, "Gateway Timeout"))
        return FakeResponse(200, self.tasks[tid])

    def _task_list(self, req: RecordedRequest, m: Any) -> FakeResponse:
        ids = self._ids(req)
        if ids is None:
            return FakeResponse(400, st_error(400, "Validation failed", {"ids": ["at most 50 ids"]}))
        rows = [t for _, t in sorted(self.tasks.items())
                if all(str(t.get(k)) == req.query[k] for k in ("jobId", "customerId") if k in req.query)
                and (not ids or t["id"] in ids)]
        return self._page(req, rows)

    def _create_customer(self, req: RecordedRequest, m: Any) -> FakeResponse:
        body = req.json() or {}
        locations = body.get("locations")
        if not body.get("name") or not isinstance(body.get("address"), dict) or not isinstance(locations, list) \
                or not locations:
            return FakeResponse(400, st_error(400, "Validation failed", {"locations": ["required"]}))
        cid = next(self._n)
        made = [{"id": next(self._n), "customerId": cid, "name": loc.get("name"), "address": loc.get("address")}
                for loc in locations if isinstance(loc, dict)]
        self.customers[cid] = {"id": cid, "name": body["name"], "active": True, "type": body.get("type", "Residential"),
                               "address": body["address"], "createdOn": _now(), "modifiedOn": _now()}
        self.contacts[cid] = [{"id": next(self._n), "type": c.get("type"), "value": c.get("value"), "memo": None}
                              for c in body.get("contacts") or [] if isinstance(c, dict)]
        return FakeResponse(200, {**self.customers[cid], "locations": made, "contacts": self.contacts[cid]})

    def _create_job(self, req: RecordedRequest, m: Any) -> FakeResponse:
        body = req.json() or {}
        missing = [k for k in JOB_REQUIRED if k not in body]
        slots = body.get("appointments") if isinstance(body.get("appointments"), list) else []
        times = [(opt_dt(a.get("start")), opt_dt(a.get("end"))) for a in slots if isinstance(a, dict)]
        if missing or not times or any(s is None or e is None for s, e in times):
            return FakeResponse(400, st_error(400, "Validation failed", {k: ["required"] for k in missing or
                                                                         ["appointments"]}))
        if body["customerId"] not in self.customers:
            return FakeResponse(404, st_error(404, "Customer not found"))
        start, end = times[0]
        assert start is not None and end is not None
        jid, _ = self.add_job(body["customerId"], start, end)
        self.jobs[jid].update(locationId=body["locationId"], businessUnitId=body["businessUnitId"],
                              jobTypeId=body["jobTypeId"], campaignId=body["campaignId"], summary=body.get("summary"))
        return FakeResponse(200, self.jobs[jid])

    def _known_customer(self, m: Any) -> int | None:
        return int(m["id"]) if m["id"].isdigit() and int(m["id"]) in self.customers else None

    def _add_customer_note(self, req: RecordedRequest, m: Any) -> FakeResponse:
        customer, body = self._known_customer(m), req.json() or {}
        if customer is None:
            return FakeResponse(404, st_error(404, "Customer not found"))
        if not isinstance(body.get("text"), str) or not body["text"]:
            return FakeResponse(400, st_error(400, "Validation failed", {"text": ["required"]}))
        note = {"text": body["text"], "isPinned": bool(body.get("pinToTop")), "createdById": 1, "createdOn": _now(),
                "modifiedOn": _now()}
        self.customer_notes.setdefault(customer, []).append(note)
        return FakeResponse(200, note)

    def _customer_notes(self, req: RecordedRequest, m: Any) -> FakeResponse:
        customer = self._known_customer(m)
        if customer is None:
            return FakeResponse(404, st_error(404, "Customer not found"))
        return self._page(req, self.customer_notes.get(customer, []))
