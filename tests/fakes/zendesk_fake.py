"""A fake Zendesk Support account: the REST resources the connector uses, and the webhook signing scheme.

- Auth (https://developer.zendesk.com/api-reference/introduction/security-and-auth/): HTTP Basic
  `{email}/token:{api_token}` or `Authorization: Bearer <OAuth token>`; anything else is 401
  `{"error": "Couldn't authenticate you"}`.
- Tickets (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/): `GET/PUT
  /api/v2/tickets/{id}.json` (`custom_fields` merged by id; a `comment` appended, private when `public` is
  false; the answer carries `audit.events` with the comment), `POST /api/v2/tickets.json` (`comment` required),
  `GET /api/v2/tickets/{id}/comments.json`, `GET /api/v2/users/{id}/tickets/requested.json` (`sort_by`,
  `sort_order`).
- Users (https://developer.zendesk.com/api-reference/ticketing/users/users/): `GET /api/v2/users/{id}.json`,
  `/users/me.json`, `/users/search.json?query=email:<address>`, `POST /api/v2/users.json` (`name` required).
- Incremental export (https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/):
  `GET /api/v2/incremental/tickets/cursor.json` with `start_time` (unix, tickets updated at or after it) or
  `cursor`; answers `tickets`, `after_cursor`, `after_url`, `end_of_stream`.
An unknown record is 404 `{"error": "RecordNotFound", "description": "Not found"}`; an invalid one 422
`{"error": "RecordInvalid", "description": "Record validation errors", "details": {...}}`.
Webhook signing (https://developer.zendesk.com/documentation/webhooks/verifying/): `sign` computes
base64(HMAC-SHA256(secret, timestamp + body)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from datetime import UTC, datetime
from typing import Any

from connectors.inbound import opt_dt
from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest

NOT_FOUND = {"error": "RecordNotFound", "description": "Not found"}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()).decode()


def zd_error(status: int) -> dict[str, Any]:
    if status == 404:
        return NOT_FOUND
    return {"error": "RecordInvalid", "description": "Record validation errors",
            "details": {"base": [{"description": "refused"}]}}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeZendesk(FakeServer):
    def __init__(self, email: str = "agent@clinic.example", api_token: str = "zd-token",
                 oauth_token: str = "zd-oauth", page_size: int = 1000) -> None:
        self.basic = "Basic " + base64.b64encode(f"{email}/token:{api_token}".encode()).decode()
        self.bearer = f"Bearer {oauth_token}"
        self.page_size = page_size
        self.users: dict[int, dict[str, Any]] = {9001: {"id": 9001, "name": "Ada Agent", "email": email,
                                                       "role": "admin"}}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self._n = itertools.count(35000)
        super().__init__()

    # ------------------------------------------------------------ helpers for tests
    def add_user(self, name: str, email: str, phone: str) -> int:
        uid = next(self._n)
        self.users[uid] = {"id": uid, "name": name, "email": email, "phone": phone, "role": "end-user"}
        return uid

    def add_ticket(self, requester_id: int, custom: dict[int, Any] | None = None, **fields: Any) -> int:
        tid = int(fields.pop("id", 0)) or next(self._n)
        self.tickets[tid] = {"id": tid, "subject": "Appointment", "status": "open", "requester_id": requester_id,
                             "assignee_id": None, "created_at": _now(), "updated_at": _now(), "tags": [],
                             "custom_fields": [{"id": k, "value": v} for k, v in (custom or {}).items()], **fields}
        self.comments[tid] = [{"id": next(self._n), "body": "ticket opened", "public": True}]
        return tid

    def field(self, ticket_id: int, field_id: int) -> Any:
        return next((f["value"] for f in self.tickets[ticket_id]["custom_fields"] if f["id"] == field_id), None)

    def setup_routes(self) -> None:
        self.route("GET", "/api/v2/users/me.json", self._me)
        self.route("POST", "/api/v2/users.json", self._create_user)
        self.route("GET", "/api/v2/users/search.json", self._search_users)
        self.route("GET", "/api/v2/users/(?P<id>[0-9]+)/tickets/requested.json", self._requested)
        self.route("GET", "/api/v2/users/(?P<id>[0-9]+).json", self._user)
        self.route("GET", "/api/v2/tickets/(?P<id>[0-9]+).json", self._ticket)
        self.route("PUT", "/api/v2/tickets/(?P<id>[0-9]+).json", self._update)
        self.route("POST", "/api/v2/tickets.json", self._create)
        self.route("GET", "/api/v2/tickets/(?P<id>[0-9]+)/comments.json", self._comments)
        self.route("GET", "/api/v2/incremental/tickets/cursor.json", self._export)

    def _refused(self, req: RecordedRequest) -> FakeResponse | None:
        if req.headers.get("authorization") in (self.basic, self.bearer):
            return None
        return FakeResponse(401, {"error": "Couldn't authenticate you"})

    # ------------------------------------------------------------ users
    def _me(self, req: RecordedRequest, m: Any) -> FakeResponse:
        return self._refused(req) or FakeResponse(200, {"user": self.users[9001]})

    def _create_user(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        body = (req.json() or {}).get("user") or {}
        if not body.get("name"):
            return FakeResponse(422, zd_error(422))
        uid = self.add_user(body["name"], body.get("email", ""), body.get("phone", ""))
        return FakeResponse(201, {"user": self.users[uid]})

    def _user(self, req: RecordedRequest, m: Any) -> FakeResponse:
        user = self.users.get(int(m["id"]))
        return self._refused(req) or (FakeResponse(200, {"user": user}) if user else FakeResponse(404, NOT_FOUND))

    def _search_users(self, req: RecordedRequest, m: Any) -> FakeResponse:
        query = req.query.get("query", "")
        email = query.removeprefix("email:")
        found = [u for u in self.users.values() if query.startswith("email:") and u.get("email") == email]
        return self._refused(req) or FakeResponse(200, {"users": found, "count": len(found), "next_page": None})

    def _requested(self, req: RecordedRequest, m: Any) -> FakeResponse:
        rows = [t for t in self.tickets.values() if t["requester_id"] == int(m["id"])]
        if req.query.get("sort_by") == "updated_at":
            rows.sort(key=lambda t: (t["updated_at"], t["id"]), reverse=req.query.get("sort_order") == "desc")
        return self._refused(req) or FakeResponse(200, {"tickets": rows, "count": len(rows), "next_page": None})

    # ------------------------------------------------------------ tickets
    def _ticket(self, req: RecordedRequest, m: Any) -> FakeResponse:
        ticket = self.tickets.get(int(m["id"]))
        return self._refused(req) or (FakeResponse(200, {"ticket": ticket}) if ticket else FakeResponse(404, NOT_FOUND))

    def _update(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        ticket = self.tickets.get(int(m["id"]))
        if ticket is None:
            return FakeResponse(404, NOT_FOUND)
        change = dict((req.json() or {}).get("ticket") or {})
        events: list[dict[str, Any]] = []
        for field in change.pop("custom_fields", None) or []:
            known = next((f for f in ticket["custom_fields"] if f["id"] == field["id"]), None)
            if known is None:
                ticket["custom_fields"].append({"id": field["id"], "value": field["value"]})
            else:
                known["value"] = field["value"]
            events.append({"id": next(self._n), "type": "Change", "field_name": str(field["id"])})
        comment = change.pop("comment", None)
        if comment is not None:
            if not comment.get("body"):
                return FakeResponse(422, zd_error(422))
            row = {"id": next(self._n), "type": "Comment", "body": comment["body"],
                   "public": comment.get("public", True)}
            self.comments[ticket["id"]].append(row)
            events.append(row)
        ticket.update(change)
        ticket["updated_at"] = _now()
        return FakeResponse(200, {"ticket": ticket, "audit": {"id": next(self._n), "ticket_id": ticket["id"],
                                                              "events": events}})

    def _create(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        body = dict((req.json() or {}).get("ticket") or {})
        comment = body.pop("comment", None)
        if not isinstance(comment, dict) or not comment.get("body"):
            return FakeResponse(422, zd_error(422))
        custom = {f["id"]: f["value"] for f in body.pop("custom_fields", None) or []}
        tid = self.add_ticket(int(body.pop("requester_id", 9001)), custom, **body)
        self.comments[tid] = [{"id": next(self._n), "body": comment["body"], "public": comment.get("public", True)}]
        return FakeResponse(201, {"ticket": self.tickets[tid]})

    def _comments(self, req: RecordedRequest, m: Any) -> FakeResponse:
        rows = self.comments.get(int(m["id"]))
        if rows is None:
            return self._refused(req) or FakeResponse(404, NOT_FOUND)
        return self._refused(req) or FakeResponse(200, {"comments": rows, "next_page": None, "count": len(rows)})

    # ------------------------------------------------------------ incremental export
    def _export(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        rows = sorted(self.tickets.values(), key=lambda t: (t["updated_at"], t["id"]))
        if "cursor" in req.query:
            try:
                start = int(base64.b64decode(req.query["cursor"]).decode())
            except ValueError:
                return FakeResponse(400, {"error": "InvalidCursor", "description": "Invalid cursor"})
        elif "start_time" in req.query and req.query["start_time"].isdigit():
            since = datetime.fromtimestamp(int(req.query["start_time"]), UTC)
            start = next((i for i, t in enumerate(rows) if (opt_dt(t["updated_at"]) or since) >= since), len(rows))
        else:
            return FakeResponse(400, {"error": "InvalidValue", "description": "start_time or cursor is required"})
        chunk = rows[start:start + self.page_size]
        after = base64.b64encode(str(start + len(chunk)).encode()).decode()
        return FakeResponse(200, {"tickets": chunk, "after_cursor": after, "before_cursor": None,
                                  "after_url": f"{self.base_url}/api/v2/incremental/tickets/cursor.json?cursor={after}",
                                  "end_of_stream": start + len(chunk) >= len(rows)})
