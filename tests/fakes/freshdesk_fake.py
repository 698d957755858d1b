"""A fake Freshdesk helpdesk: the API v2 resources the connector uses (https://developers.freshdesk.com/api/).

- Auth: HTTP Basic `<api key>:X`; anything else is 401 `{"code": "invalid_credentials", "message": ...}`.
- Tickets: `GET/PUT /api/v2/tickets/{id}` (`custom_fields` merged by `cf_` name; an unknown field is 400
  `{"description": "Validation failed", "errors": [{"field", "message", "code": "invalid_field"}]}`),
  `POST /api/v2/tickets` (`subject`, `description` and `requester_id` required), `GET /api/v2/tickets` with
  `updated_since` (ISO, tickets updated at or after it), `requester_id`, `order_by=updated_at`, `order_type`,
  `per_page` (at most 100), `page`: a plain JSON array.
- Notes: `POST /api/v2/tickets/{id}/notes` (`body` required; `private` defaults to true), `GET
  /api/v2/tickets/{id}/conversations`.
- Contacts: `GET /api/v2/contacts/{id}`, `GET /api/v2/contacts?email=`, `POST /api/v2/contacts` (`name` and
  one of `email` / `phone` / `mobile` required). Agents: `GET /api/v2/agents/me`.
An unknown record is 404 with an empty body.
"""

from __future__ import annotations

import base64
import itertools
from datetime import UTC, datetime
from typing import Any

from connectors.inbound import opt_dt
from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest


def fd_error(status: int, field: str = "custom_fields", code: str = "invalid_value") -> dict[str, Any] | None:
    if status == 404:
        return None
    return {"description": "Validation failed", "errors": [{"field": field, "message": "refused", "code": code}]}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeFreshdesk(FakeServer):
    def __init__(self, api_key: str = "fd-key", custom_fields: tuple[str, ...] = (
            "cf_reason", "cf_appointment_id", "cf_appointment_time", "cf_outcome", "cf_recovery_status")) -> None:
        self.basic = "Basic " + base64.b64encode(f"{api_key}:X".encode()).decode()
        self.known_fields = set(custom_fields)
        self.contacts: dict[int, dict[str, Any]] = {}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.conversations: dict[int, list[dict[str, Any]]] = {}
        self._n = itertools.count(47000)
        super().__init__()

    # ------------------------------------------------------------ helpers for tests
    def add_contact(self, name: str, email: str, phone: str) -> int:
        cid = next(self._n)
        self.contacts[cid] = {"id": cid, "name": name, "email": email, "phone": None, "mobile": phone}
        return cid

    def add_ticket(self, requester_id: int, custom: dict[str, Any] | None = None, **fields: Any) -> int:
        tid = int(fields.pop("id", 0)) or next(self._n)
        self.tickets[tid] = {"id": tid, "subject": "Appointment", "status": 2, "priority": 1, "source": 3,
                             "requester_id": requester_id, "responder_id": None, "created_at": _now(),
                             "updated_at": _now(), "custom_fields": {f: None for f in self.known_fields},
                             **fields}
        self.tickets[tid]["custom_fields"].update(custom or {})
        self.conversations[tid] = []
        return tid

    def setup_routes(self) -> None:
        self.route("GET", "/api/v2/agents/me", self._me)
        self.route("GET", "/api/v2/contacts", self._find_contacts)
        self.route("POST", "/api/v2/contacts", self._create_contact)
        self.route("GET", "/api/v2/contacts/(?P<id>[0-9]+)", self._contact)
        self.route("GET", "/api/v2/tickets", self._list)
        self.route("POST", "/api/v2/tickets", self._create)
        self.route("GET", "/api/v2/tickets/(?P<id>[0-9]+)", self._ticket)
        self.route("PUT", "/api/v2/tickets/(?P<id>[0-9]+)", self._update)
        self.route("POST", "/api/v2/tickets/(?P<id>[0-9]+)/notes", self._note)
        self.route("GET", "/api/v2/tickets/(?P<id>[0-9]+)/conversations", self._conversations)

    def _refused(self, req: RecordedRequest) -> FakeResponse | None:
        if req.headers.get("authorization") == self.basic:
            return None
        return FakeResponse(401, {"code": "invalid_credentials",
                                  "message": "You have to be logged in to perform this action."})

    def _me(self, req: RecordedRequest, m: Any) -> FakeResponse:
        return self._refused(req) or FakeResponse(200, {"id": 77001, "available": True, "occasional": False,
                                                        "contact": {"name": "Ada Agent",
                                                                    "email": "agent@clinic.example"}})

    def _contact(self, req: RecordedRequest, m: Any) -> FakeResponse:
        found = self.contacts.get(int(m["id"]))
        return self._refused(req) or (FakeResponse(200, found) if found else FakeResponse(404))

    def _create_contact(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        body = req.json() or {}
        if not body.get("name") or not (body.get("email") or body.get("mobile") or body.get("phone")):
            return FakeResponse(400, fd_error(400, "name", "missing_field"))
        cid = self.add_contact(body["name"], body.get("email", ""), body.get("mobile") or body.get("phone", ""))
        return FakeResponse(201, self.contacts[cid])

    def _find_contacts(self, req: RecordedRequest, m: Any) -> FakeResponse:
        rows = [c for c in self.contacts.values() if c["email"] == req.query.get("email")]
        return self._refused(req) or FakeResponse(200, rows)

    def _ticket(self, req: RecordedRequest, m: Any) -> FakeResponse:
        found = self.tickets.get(int(m["id"]))
        return self._refused(req) or (FakeResponse(200, found) if found else FakeResponse(404))

    def _list(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        rows = list(self.tickets.values())
        if "updated_since" in req.query:
            since = opt_dt(req.query["updated_since"])
            if since is None:
                return FakeResponse(400, fd_error(400, "updated_since", "invalid_value"))
            rows = [t for t in rows if (opt_dt(t["updated_at"]) or since) >= since]
        if "requester_id" in req.query:
            rows = [t for t in rows if str(t["requester_id"]) == req.query["requester_id"]]
        if req.query.get("order_by", "created_at") in ("updated_at", "created_at"):
            key = req.query.get("order_by", "created_at")
            rows.sort(key=lambda t: (t[key], t["id"]), reverse=req.query.get("order_type", "desc") == "desc")
        per_page = int(req.query.get("per_page") or 30)
        if per_page > 100:
            return FakeResponse(400, fd_error(400, "per_page", "invalid_value"))
        page = int(req.query.get("page") or 1)
        return FakeResponse(200, rows[(page - 1) * per_page:page * per_page])

    def _create(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        body = dict(req.json() or {})
        missing = [k for k in ("subject", "description") if not body.get(k)]
        if missing or not (body.get("requester_id") or body.get("email")):
            return FakeResponse(400, fd_error(400, (missing or ["requester_id"])[0], "missing_field"))
        custom = body.pop("custom_fields", None) or {}
        unknown = sorted(set(custom) - self.known_fields)
        if unknown:
            return FakeResponse(400, fd_error(400, unknown[0], "invalid_field"))
        tid = self.add_ticket(int(body.pop("requester_id")), custom, **body)
        return FakeResponse(201, self.tickets[tid])

    def _update(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        ticket = self.tickets.get(int(m["id"]))
        if ticket is None:
            return FakeResponse(404)
        body = dict(req.json() or {})
        custom = body.pop("custom_fields", None) or {}
        unknown = sorted(set(custom) - self.known_fields)
        if unknown:
            return FakeResponse(400, fd_error(400, unknown[0], "invalid_field"))
        ticket["custom_fields"].update(custom)
        ticket.update(body)
        ticket["updated_at"] = _now()
        return FakeResponse(200, ticket)

    def _note(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        ticket = self.tickets.get(int(m["id"]))
        if ticket is None:
            return FakeResponse(404)
        body = dict(req.json() or {})
        if not body.get("body"):
            return FakeResponse(400, fd_error(400, "body", "missing_field"))
        note = {"id": next(self._n), "body": body["body"], "body_text": body["body"],
                "private": body.get("private", True), "incoming": False, "ticket_id": ticket["id"],
                "created_at": _now()}
        self.conversations[ticket["id"]].append(note)
        return FakeResponse(201, note)

    def _conversations(self, req: RecordedRequest, m: Any) -> FakeResponse:
        rows = self.conversations.get(int(m["id"]))
        return self._refused(req) or (FakeResponse(200, rows) if rows is not None else FakeResponse(404))
