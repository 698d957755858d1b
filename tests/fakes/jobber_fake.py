"""A fake Jobber account: the OAuth token endpoint (refresh tokens rotated on every refresh, the previous one
invalidated at once, https://developer.getjobber.com/docs/building_your_app/refresh_token_rotation/) and the
GraphQL endpoint the connector uses (https://developer.getjobber.com/docs/using_jobbers_api/api_queries_and_mutations).

- `POST /api/oauth/token` form `grant_type=refresh_token&refresh_token&client_id&client_secret` -> `{"access_token",
  "refresh_token", "expires_in"}`; an unknown or already used refresh token is 401 `{"error": "invalid_grant"}`.
- `POST /api/graphql`: JSON only (a form body is 415), `Authorization: Bearer` of an issued token (else 401
  `{"message": "invalid_request"}`), `X-JOBBER-GRAPHQL-VERSION` required (else a GraphQL error). The operation is
  chosen by `operationName` and its `variables` (the query text is not interpreted): `NoshowVisits` (visits whose
  `startAt` is in [after, before), Relay pages of `page_size`), `NoshowVisit`, `NoshowAccount`,
  `NoshowVisitEditSchedule`, `NoshowJobCreateNote`, `NoshowClientCreate`, `NoshowJobCreate`, `NoshowVisitCreate`,
  `NoshowClientCreateNote`, `NoshowClientNotes` (newest first)
  (the inputs' required fields of the 2022-03-10 schema checked, refusals as `userErrors`); an unknown one
  answers a GraphQL error. `throttle_next()`
  answers the next operation with the `THROTTLED` error and `extensions.cost`.
"""

from __future__ import annotations

import base64
import itertools
import json
from datetime import UTC, datetime
from typing import Any

from connectors.inbound import opt_dt
from connectors.signatures import hmac_sha256_b64
from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest


def gid(kind: str, n: int) -> str:
    """Jobber's encoded ids: base64 of a global id."""
    return base64.b64encode(f"gid://Jobber/{kind}/{n}".encode()).decode()


def jobber_webhook(secret: str, topic: str, item_id: str, occured_at: str = "2026-01-06T15:00:00Z"
                   ) -> tuple[bytes, dict[str, str]]:
    """A delivery as Jobber sends it: the body and its `X-Jobber-Hmac-SHA256`."""
    body = json.dumps({"data": {"webHookEvent": {"topic": topic, "appId": "app_noshow", "accountId": "acct_1",
                                                 "itemId": item_id, "occuredAt": occured_at}}},
                      separators=(",", ":")).encode()
    return body, {"content-type": "application/json", "x-jobber-hmac-sha256": hmac_sha256_b64(secret, body)}


def _local(value: Any) -> datetime | None:
    """A `LocalDateTimeAttributes` input ({date, time, timezone}); only UTC is modelled here."""
    if not isinstance(value, dict) or value.get("timezone") != "UTC":
        return None
    return opt_dt(f"{value.get('date')}T{value.get('time')}+00:00")


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeJobber(FakeServer):
    def __init__(self, client_id: str = "jobber-client", client_secret: str = "jobber-secret",
                 refresh_token: str = "jobber-refresh", page_size: int = 50, access_token: str | None = None) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.valid_refresh = {refresh_token}
        self.page_size = page_size
        self.issued: set[str] = {access_token} if access_token else set()
        self.visits: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.clients: dict[str, dict[str, Any]] = {}
        self.notes: dict[str, list[str]] = {}
        self.client_notes: dict[str, list[dict[str, str]]] = {}
        self._throttle = 0
        self._n = itertools.count(100)
        super().__init__()

    # ------------------------------------------------------------ helpers for tests
    def add_client(self, name: str, email: str, phone: str) -> str:
        cid = gid("Client", next(self._n))
        self.clients[cid] = {"id": cid, "name": name, "emails": [{"address": email, "primary": True}],
                             "phones": [{"number": phone, "primary": True}]}
        return cid

    def add_visit(self, client_id: str, start: datetime, end: datetime, status: str = "UPCOMING",
                  complete: bool = False) -> str:
        jid, vid = gid("Job", next(self._n)), gid("Visit", next(self._n))
        self.jobs.setdefault(jid, {"id": jid, "jobNumber": len(self.jobs) + 1})
        self.visits[vid] = {"id": vid, "title": "Service visit", "startAt": _iso(start), "endAt": _iso(end),
                            "completedAt": _iso(end) if complete else None, "isComplete": complete,
                            "visitStatus": "COMPLETED" if complete else status, "createdAt": _iso(start),
                            "job": jid, "client": client_id}
        return vid

    def throttle_next(self) -> None:
        self._throttle += 1

    def setup_routes(self) -> None:
        self.route("POST", "/api/oauth/token", self._token)
        self.route("POST", "/api/graphql", self._graphql)

    # ------------------------------------------------------------ OAuth
    def _token(self, req: RecordedRequest, m: Any) -> FakeResponse:
        form = req.form()
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return FakeResponse(401, {"error": "invalid_client"})
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") not in self.valid_refresh:
            return FakeResponse(401, {"error": "invalid_grant"})
        self.valid_refresh.discard(form["refresh_token"])
        new = f"jobber-refresh-{next(self._n)}"
        self.valid_refresh.add(new)
        access = f"jobber-access-{len(self.issued) + 1}"
        self.issued.add(access)
        return FakeResponse(200, {"access_token": access, "refresh_token": new, "expires_in": 3600})

    # ------------------------------------------------------------ GraphQL
    def _graphql(self, req: RecordedRequest, m: Any) -> FakeResponse:
        if not req.headers.get("content-type", "").startswith("application/json"):
            return FakeResponse(415, {"message": "Content-Type must be application/json"})
        if req.headers.get("authorization", "").removeprefix("Bearer ") not in self.issued:
            return FakeResponse(401, {"message": "invalid_request"})
        if not req.headers.get("x-jobber-graphql-version"):
            return FakeResponse(200, {"errors": [{"message": "version header required",
                                                  "extensions": {"code": "VERSION_REQUIRED"}}]})
        body = req.json() or {}
        if self._throttle:
            self._throttle -= 1
            return FakeResponse(200, {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                                      "extensions": {"cost": {"requestedQueryCost": 1200, "actualQueryCost": 0,
                                                              "throttleStatus": {"maximumAvailable": 10000,
                                                                                 "currentlyAvailable": 200,
                                                                                 "restoreRate": 500}}}})
        handler = {"NoshowVisits": self._visits, "NoshowVisit": self._visit, "NoshowAccount": self._account,
                   "NoshowVisitEditSchedule": self._edit_schedule,
                   "NoshowJobCreateNote": self._job_note, "NoshowClientCreate": self._client_create,
                   "NoshowJobCreate": self._job_create, "NoshowClientCreateNote": self._client_note,
                   "NoshowClientNotes": self._client_notes,
                   "NoshowVisitCreate": self._visit_create}.get(str(body.get("operationName")))
        if handler is None:
            return FakeResponse(200, {"errors": [{"message": "unknown operation",
                                                  "extensions": {"code": "undefinedField"}}]})
        variables = body.get("variables") if isinstance(body.get("variables"), dict) else {}
        return FakeResponse(200, {"data": handler(variables)})

    def _render(self, visit: dict[str, Any]) -> dict[str, Any]:
        status = visit["visitStatus"]
        if status is None:  # a visit made through the API: its status follows the clock, as Jobber's enum says
            end = opt_dt(visit["endAt"])
            status = "COMPLETED" if visit["isComplete"] else "LATE" if end and end < datetime.now(UTC) else "UPCOMING"
        client = self.clients.get(visit["client"])
        return {**visit, "visitStatus": status, "job": self.jobs.get(visit["job"]),
                "client": {k: v for k, v in client.items() if k != "properties"} if client else None}

    def _visits(self, v: dict[str, Any]) -> dict[str, Any]:
        after, before = opt_dt(v.get("after")), opt_dt(v.get("before"))
        rows = [x for x in self.visits.values()
                if after is not None and before is not None and after <= (opt_dt(x["startAt"]) or after) < before]
        start = int(v["cursor"]) if str(v.get("cursor") or "").isdigit() else 0
        page = rows[start:start + self.page_size]
        more = start + self.page_size < len(rows)
        return {"visits": {"nodes": [self._render(x) for x in page],
                           "pageInfo": {"hasNextPage": more, "endCursor": str(start + self.page_size) if more
                                        else None}}}

    def _visit(self, v: dict[str, Any]) -> dict[str, Any]:
        found = self.visits.get(str(v.get("id")))
        return {"visit": self._render(found) if found else None}

    def _account(self, v: dict[str, Any]) -> dict[str, Any]:
        return {"account": {"id": gid("Account", 1)}}

    def _edit_schedule(self, v: dict[str, Any]) -> dict[str, Any]:
        found = self.visits.get(str(v.get("id")))
        given = v.get("input") if isinstance(v.get("input"), dict) else {}
        start, end = _local(given.get("startAt")), _local(given.get("endAt"))
        if found is None:
            return {"visitEditSchedule": {"visit": None, "userErrors": [{"message": "Visit not found",
                                                                          "path": ["id"]}]}}
        if start is None or end is None or end <= start:
            return {"visitEditSchedule": {"visit": None, "userErrors": [{"message": "invalid schedule",
                                                                          "path": ["input"]}]}}
        found.update(startAt=_iso(start), endAt=_iso(end), visitStatus="UPCOMING", completedAt=None,
                     isComplete=False)
        return {"visitEditSchedule": {"visit": {"id": found["id"], "startAt": found["startAt"],
                                                "endAt": found["endAt"]}, "userErrors": []}}

    def _job_note(self, v: dict[str, Any]) -> dict[str, Any]:
        job = str(v.get("jobId"))
        given = v.get("input") if isinstance(v.get("input"), dict) else {}
        if job not in self.jobs or not given.get("message"):
            return {"jobCreateNote": {"jobNote": None, "userErrors": [{"message": "invalid note", "path": ["jobId"]}]}}
        self.notes.setdefault(job, []).append(str(given["message"]))
        return {"jobCreateNote": {"jobNote": {"id": gid("JobNote", next(self._n))}, "userErrors": []}}

    # ------------------------------------------------------------ creates
    @staticmethod
    def _refused(field: str, item: str, message: str) -> dict[str, Any]:
        return {field: {item: None, "userErrors": [{"message": message, "path": ["input"]}]}}

    def _client_create(self, v: dict[str, Any]) -> dict[str, Any]:
        given = v.get("input") if isinstance(v.get("input"), dict) else {}
        if not (given.get("firstName") or given.get("lastName") or given.get("companyName")):
            return self._refused("clientCreate", "client", "a client needs a name")
        cid = gid("Client", next(self._n))
        props = [gid("Property", next(self._n)) for p in given.get("properties") or [] if isinstance(p, dict)]
        self.clients[cid] = {"id": cid, "name": " ".join(str(given.get(k) or "") for k in ("firstName", "lastName"))
                             .strip(), "emails": [{"address": e.get("address"), "primary": bool(e.get("primary"))}
                                                  for e in given.get("emails") or [] if isinstance(e, dict)],
                             "phones": [{"number": p.get("number"), "primary": bool(p.get("primary"))}
                                        for p in given.get("phones") or [] if isinstance(p, dict)],
                             "properties": props}
        return {"clientCreate": {"client": {"id": cid, "clientProperties": {"nodes": [{"id": p} for p in props]}},
                                 "userErrors": []}}

    def _job_create(self, v: dict[str, Any]) -> dict[str, Any]:
        given = v.get("input") if isinstance(v.get("input"), dict) else {}
        owner = next((c for c, x in self.clients.items() if given.get("propertyId") in x.get("properties", [])), None)
        if owner is None or not isinstance(given.get("scheduling"), dict) or not isinstance(given.get("invoicing"),
                                                                                            dict):
            return self._refused("jobCreate", "job", "propertyId, scheduling and invoicing are required")
        jid = gid("Job", next(self._n))
        self.jobs[jid] = {"id": jid, "jobNumber": len(self.jobs) + 1, "title": given.get("title"), "client": owner}
        return {"jobCreate": {"job": {"id": jid}, "userErrors": []}}

    def _visit_create(self, v: dict[str, Any]) -> dict[str, Any]:
        job = self.jobs.get(str(v.get("jobId")))
        given = v.get("input") if isinstance(v.get("input"), dict) else {}
        visits = [x for x in given.get("visits") or [] if isinstance(x, dict)]
        if job is None or not visits:
            return {"visitCreate": {"createdVisits": [], "job": None,
                                    "userErrors": [{"message": "invalid visits", "path": ["input"]}]}}
        made = []
        for visit in visits:
            schedule = visit.get("schedule") if isinstance(visit.get("schedule"), dict) else {}
            start, end = _local(schedule.get("startAt")), _local(schedule.get("endAt"))
            if start is None or end is None or end <= start:
                return {"visitCreate": {"createdVisits": [], "job": None,
                                        "userErrors": [{"message": "invalid schedule", "path": ["input"]}]}}
            vid = gid("Visit", next(self._n))
            self.visits[vid] = {"id": vid, "title": visit.get("title"), "startAt": _iso(start), "endAt": _iso(end),
                                "completedAt": None, "isComplete": False, "visitStatus": None,
                                "createdAt": _iso(datetime.now(UTC)), "job": job["id"], "client": job["client"]}
            made.append({"id": vid})
        return {"visitCreate": {"createdVisits": made, "job": {"id": job["id"]}, "userErrors": []}}

    def _client_note(self, v: dict[str, Any]) -> dict[str, Any]:
        client = str(v.get("clientId"))
        given = v.get("input") if isinstance(v.get("input"), dict) else {}
        if client not in self.clients or not given.get("message"):
            return self._refused("clientCreateNote", "clientNote", "invalid note")
        note = {"id": gid("ClientNote", next(self._n)), "message": str(given["message"])}
        self.client_notes.setdefault(client, []).append(note)
        return {"clientCreateNote": {"clientNote": {"id": note["id"]}, "userErrors": []}}

    def _client_notes(self, v: dict[str, Any]) -> dict[str, Any]:
        client = str(v.get("id"))
        if client not in self.clients:
            return {"client": None}
        return {"client": {"notes": {"nodes": list(reversed(self.client_notes.get(client, [])))[:50]}}}
