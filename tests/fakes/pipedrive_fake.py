"""A fake Pipedrive company: the OAuth token endpoint and the v1 / v2 REST resources the connector uses.

- Token endpoint (https://pipedrive.readme.io/docs/marketplace-oauth-authorization): `POST /oauth/token`,
  form `grant_type=refresh_token&refresh_token=...`, the client authenticated with HTTP Basic
  `base64(client_id:client_secret)`; the answer is `{"access_token", "token_type": "bearer", "refresh_token",
  "scope", "expires_in", "api_domain"}` (this server); an unknown client is 401 `{"error": "invalid_client"}`,
  an unknown refresh token 400 `{"error": "invalid_grant"}`.
- Auth on REST calls (https://pipedrive.readme.io/docs/core-api-concepts-authentication): `x-api-token` or
  `Authorization: Bearer`; anything else is 401 `{"success": false, "error": "unauthorized access",
  "errorCode": 401, "error_info": "Please check developers.pipedrive.com"}`.
- `GET /api/v1/users/me` (https://developers.pipedrive.com/docs/api/v1/Users#getCurrentUser).
- Activities v2 (https://developers.pipedrive.com/docs/api/v1/Activities): list with `updated_since`
  (`update_time >=`), `sort_by=update_time`, `sort_direction`, `limit`, `cursor` (`additional_data.next_cursor`),
  `person_id`, `owner_id`; get, create (`subject` and a known `type` required), PATCH.
- Persons and deals v2 (https://developers.pipedrive.com/docs/api/v1/Persons, .../Deals): get and PATCH with
  `custom_fields` merged; `GET /api/v2/persons/search?term=&fields=email&exact_match=true` answers
  `{"data": {"items": [{"result_score", "item": {...}}]}}`; `POST /api/v2/persons` (`name` required, `emails` /
  `phones` as `[{"value", "primary", "label"}]`).
- Notes v1 (https://developers.pipedrive.com/docs/api/v1/Notes): `POST /api/v1/notes` (`content` and one of
  `person_id` / `deal_id` required), `GET /api/v1/notes?person_id=`.
An unknown record is 404 `{"success": false, "error": "... not found", "errorCode": 404}`.
"""

from __future__ import annotations

import base64
import itertools
from datetime import UTC, datetime
from typing import Any

from connectors.inbound import opt_dt
from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest

ACTIVITY_TYPES = {"call", "meeting", "task", "deadline", "email", "lunch"}


def pd_error(status: int, error: str) -> dict[str, Any]:
    return {"success": False, "error": error, "errorCode": status,
            "error_info": "Please check developers.pipedrive.com"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakePipedrive(FakeServer):
    def __init__(self, api_token: str = "pd-api-token", client_id: str = "pd-client", client_secret: str = "pd-secret",
                 refresh_token: str = "pd-refresh", page_size: int = 500) -> None:
        self.api_tokens = {api_token}
        self.client_id, self.client_secret, self.refresh_token = client_id, client_secret, refresh_token
        self.page_size = page_size
        self.bearer: set[str] = set()
        self.activities: dict[int, dict[str, Any]] = {}
        self.persons: dict[int, dict[str, Any]] = {}
        self.deals: dict[int, dict[str, Any]] = {}
        self.notes: dict[int, dict[str, Any]] = {}
        self._n = itertools.count(8000)
        super().__init__()

    # ------------------------------------------------------------ helpers for tests
    def add_person(self, name: str, email: str, phone: str) -> int:
        pid = next(self._n)
        self.persons[pid] = {"id": pid, "name": name, "owner_id": 1234, "custom_fields": {},
                             "emails": [{"value": email, "primary": True, "label": "work"}],
                             "phones": [{"value": phone, "primary": True, "label": "mobile"}]}
        return pid

    def add_deal(self, title: str, person_id: int) -> int:
        did = next(self._n)
        self.deals[did] = {"id": did, "title": title, "person_id": person_id, "custom_fields": {}}
        return did

    def add_activity(self, **fields: Any) -> int:
        aid = int(fields.pop("id", 0)) or next(self._n)
        self.activities[aid] = {"id": aid, "done": False, "is_deleted": False, "update_time": _now(),
                                "add_time": _now(), "owner_id": 1234, **fields}
        return aid

    def setup_routes(self) -> None:
        self.route("POST", "/oauth/token", self._token)
        self.route("GET", "/api/v1/users/me", self._me)
        self.route("GET", "/api/v2/activities", self._list_activities)
        self.route("POST", "/api/v2/activities", self._create_activity)
        self.route("GET", "/api/v2/persons/search", self._search_persons)
        self.route("POST", "/api/v2/persons", self._create_person)
        self.route("GET", "/api/v2/(?P<kind>activities|persons|deals)/(?P<id>[0-9]+)", self._get)
        self.route("PATCH", "/api/v2/(?P<kind>activities|persons|deals)/(?P<id>[0-9]+)", self._patch)
        self.route("POST", "/api/v1/notes", self._create_note)
        self.route("GET", "/api/v1/notes", self._list_notes)

    # ------------------------------------------------------------ OAuth
    def _token(self, req: RecordedRequest, m: Any) -> FakeResponse:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if req.headers.get("authorization") != f"Basic {expected}":
            return FakeResponse(401, {"error": "invalid_client", "message": "Invalid client credentials"})
        form = req.form()
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
            return FakeResponse(400, {"error": "invalid_grant", "message": "Invalid grant"})
        access = f"v1u:{next(self._n)}"
        self.bearer.add(access)
        return FakeResponse(200, {"access_token": access, "token_type": "bearer", "refresh_token": self.refresh_token,
                                  "scope": "base,activities:full,deals:full,contacts:full", "expires_in": 3599,
                                  "api_domain": self.base_url})

    def revoke_bearer(self) -> None:
        self.bearer.clear()

    def _refused(self, req: RecordedRequest) -> FakeResponse | None:
        token = req.headers.get("x-api-token")
        bearer = req.headers.get("authorization", "").removeprefix("Bearer ")
        if token in self.api_tokens or bearer in self.bearer:
            return None
        return FakeResponse(401, pd_error(401, "unauthorized access"))

    @staticmethod
    def _ok(data: Any, **extra: Any) -> FakeResponse:
        return FakeResponse(200, {"success": True, "data": data, **extra})

    # ------------------------------------------------------------ REST
    def _me(self, req: RecordedRequest, m: Any) -> FakeResponse:
        return self._refused(req) or self._ok({"id": 1234, "name": "Pat Owner", "email": "pat@acme.example",
                                               "company_id": 778899, "company_domain": "acme", "active_flag": True})

    def _list_activities(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        rows = [a for a in self.activities.values() if not a.get("is_deleted")]
        since = opt_dt(req.query.get("updated_since"))
        if req.query.get("updated_since") and since is None:
            return FakeResponse(400, pd_error(400, "updated_since must be RFC3339"))
        if since is not None:
            rows = [a for a in rows if (opt_dt(a.get("update_time")) or since) >= since]
        for key in ("person_id", "owner_id", "deal_id"):
            if key in req.query:
                rows = [a for a in rows if str(a.get(key)) == req.query[key]]
        if req.query.get("sort_by") == "update_time":
            rows.sort(key=lambda a: str(a.get("update_time")), reverse=req.query.get("sort_direction") == "desc")
        limit = min(int(req.query.get("limit") or 100), 500, self.page_size)
        start = int(req.query.get("cursor") or 0)
        chunk = rows[start:start + limit]
        more = start + limit < len(rows)
        return self._ok(chunk, additional_data={"next_cursor": str(start + limit) if more else None})

    def _create_activity(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        body = req.json() or {}
        if not body.get("subject") or body.get("type", "task") not in ACTIVITY_TYPES:
            return FakeResponse(400, pd_error(400, "Invalid activity type or subject"))
        return self._ok(self.activities[self.add_activity(**body)])

    def _create_person(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        body = req.json() or {}
        if not body.get("name"):
            return FakeResponse(400, pd_error(400, "name is required"))
        pid = next(self._n)
        self.persons[pid] = {"id": pid, "owner_id": 1234, "custom_fields": {}, "emails": [], "phones": [],
                             "add_time": _now(), "update_time": _now(), **body}
        return self._ok(self.persons[pid])

    def _store(self, kind: str) -> dict[int, dict[str, Any]]:
        return {"activities": self.activities, "persons": self.persons, "deals": self.deals}[kind]

    def _get(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        row = self._store(m["kind"]).get(int(m["id"]))
        if row is None:
            return FakeResponse(404, pd_error(404, f"{m['kind'][:-1].capitalize()} not found"))
        return self._ok(row)

    def _patch(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        row = self._store(m["kind"]).get(int(m["id"]))
        if row is None:
            return FakeResponse(404, pd_error(404, f"{m['kind'][:-1].capitalize()} not found"))
        body = dict(req.json() or {})
        custom = body.pop("custom_fields", None)
        if isinstance(custom, dict):
            row.setdefault("custom_fields", {}).update(custom)
        row.update(body)
        row["update_time"] = _now()
        return self._ok(row)

    def _search_persons(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        term = req.query.get("term", "")
        if len(term) < 2:
            return FakeResponse(400, pd_error(400, "term must be at least 2 characters"))
        items = [{"result_score": 1.0, "item": {"id": p["id"], "type": "person", "name": p["name"]}}
                 for p in self.persons.values() if any(e["value"] == term for e in p["emails"])]
        return self._ok({"items": items})

    def _create_note(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        body = req.json() or {}
        if not body.get("content") or not (body.get("person_id") or body.get("deal_id")):
            return FakeResponse(400, pd_error(400, "content and an item to attach to are required"))
        nid = next(self._n)
        self.notes[nid] = {"id": nid, "add_time": _now(), **body}
        return self._ok(self.notes[nid])

    def _list_notes(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        rows = [n for n in self.notes.values() if str(n.get("person_id")) == req.query.get("person_id")]
        return self._ok(rows or None, additional_data={"pagination": {"start": 0, "limit": 100,
                                                                      "more_items_in_collection": False}})
