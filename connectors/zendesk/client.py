"""Zendesk Support REST client (base `https://{subdomain}.zendesk.com/api/v2`).

References (Zendesk's public documentation):
- Auth: API token as HTTP Basic `{email}/token:{api_token}`, or `Authorization: Bearer <OAuth access token>`
  https://developer.zendesk.com/api-reference/introduction/security-and-auth/.
- Tickets: `GET /api/v2/tickets/{id}.json`, `PUT /api/v2/tickets/{id}.json` with `{"ticket": {"custom_fields":
  [{"id", "value"}]}}` or `{"ticket": {"comment": {"body", "public": false}}}` (a private comment, the internal
  note), `POST /api/v2/tickets.json`, `GET /api/v2/tickets/{id}/comments.json`,
  `GET /api/v2/users/{id}/tickets/requested.json` https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/,
  https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/.
- Users: `GET /api/v2/users/{id}.json`, `GET /api/v2/users/me.json`, `GET /api/v2/users/search.json?query=`,
  `POST /api/v2/users.json`
  https://developer.zendesk.com/api-reference/ticketing/users/users/.
- Incremental ticket export, cursor based: `GET /api/v2/incremental/tickets/cursor.json?start_time=<unix>`, then
  `?cursor=<after_cursor>` until `end_of_stream`
  https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/.
- Errors are `{"error": "RecordNotFound", "description": ...}`; rate limits answer 429 with `Retry-After`
  https://developer.zendesk.com/api-reference/introduction/rate-limits/.
UNVERIFIED: `public: false` making the comment internal is read from the widely used form, not the page; the
requested-tickets `sort_by` / `sort_order` parameters; the cursor field names of the export; the per-plan
rate limits (the bucket below is the smallest plan's 200 requests a minute); whether OAuth access tokens expire
(the token is used as given).
Error descriptions can echo a ticket's content: only the status and the `error` code reach an exception.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from connectors.contract import PermanentProviderError
from connectors.http import JsonApi, segment
from connectors.oauth import TokenSource, current_token


class ZendeskClient(JsonApi):
    provider = "zendesk"
    rate_limit = (200.0, 60.0)

    def __init__(self, base_url: str, email: str | None = None, api_token: str | None = None,
                 oauth: TokenSource | None = None, timeout: float = 10.0, http: httpx.Client | None = None) -> None:
        if not (email and api_token) and not oauth:
            raise ValueError("Zendesk needs an agent email with an API token, or an OAuth token")
        super().__init__(base_url, {"Accept": "application/json"}, timeout, http)
        self.basic = base64.b64encode(f"{email}/token:{api_token}".encode()).decode() if email and api_token else None
        self.oauth = oauth

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        auth = f"Basic {self.basic}" if self.basic else f"Bearer {current_token(self.oauth or '')}"
        response = super().request(method, path, headers={"Authorization": auth, **(kwargs.pop("headers", None) or {})},
                                   ok=_REFUSALS, **kwargs)
        if response.status_code in _REFUSALS:
            raise PermanentProviderError(f"zendesk HTTP {response.status_code} ({_code(response)})",
                                         code=_code(response))
        return response

    def _object(self, key: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        body = self.call(method, path, **kwargs)
        found = body.get(key) if isinstance(body, dict) else None
        return found if isinstance(found, dict) else {}

    # ------------------------------------------------------------------ reads
    def me(self) -> dict[str, Any]:
        return self._object("user", "GET", "/api/v2/users/me.json")

    def user(self, user_id: str) -> dict[str, Any]:
        return self._object("user", "GET", f"/api/v2/users/{segment(user_id)}.json")

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        return self._object("ticket", "GET", f"/api/v2/tickets/{segment(ticket_id)}.json")

    def field_values(self, ticket_id: str) -> dict[str, Any]:
        return custom_values(self.ticket(ticket_id))

    def notes(self, ticket_id: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        path: str | None = f"/api/v2/tickets/{segment(ticket_id)}/comments.json"
        while path:
            body = self.call("GET", path)
            rows = body.get("comments") if isinstance(body, dict) else None
            out += [(str(c.get("id")), str(c.get("body") or "")) for c in rows or [] if isinstance(c, dict)]
            nxt = body.get("next_page") if isinstance(body, dict) else None
            path = nxt if isinstance(nxt, str) and nxt else None
        return out

    def requested_tickets(self, requester_id: str) -> list[dict[str, Any]]:
        body = self.call("GET", f"/api/v2/users/{segment(requester_id)}/tickets/requested.json",
                         params={"sort_by": "updated_at", "sort_order": "desc"})
        rows = body.get("tickets") if isinstance(body, dict) else None
        return [t for t in rows or [] if isinstance(t, dict)]

    def requester_by_email(self, email: str) -> str | None:
        body = self.call("GET", "/api/v2/users/search.json", params={"query": f"email:{email}"})
        rows = body.get("users") if isinstance(body, dict) else None
        first = rows[0] if isinstance(rows, list) and rows and isinstance(rows[0], dict) else {}
        return str(first["id"]) if first.get("id") else None

    def export(self, cursor: str | None, start: datetime) -> dict[str, Any]:
        """One page of the incremental ticket export: from `cursor` when there is one, else from `start`."""
        params: dict[str, Any] = {"cursor": cursor} if cursor else {"start_time": int(start.timestamp())}
        body = self.call("GET", "/api/v2/incremental/tickets/cursor.json", params=params)
        return body if isinstance(body, dict) else {}

    # ------------------------------------------------------------------ writes
    def set_fields(self, ticket_id: str, values: Mapping[str, str | None]) -> None:
        fields = [{"id": int(k) if k.isdigit() else k, "value": v} for k, v in values.items()]
        self.call("PUT", f"/api/v2/tickets/{segment(ticket_id)}.json", json_body={"ticket": {"custom_fields": fields}})

    def add_note(self, ticket_id: str, body: str) -> str:
        found = self.call("PUT", f"/api/v2/tickets/{segment(ticket_id)}.json",
                          json_body={"ticket": {"comment": {"body": body, "public": False}}}, ambiguous_after_send=True)
        audit = found.get("audit") if isinstance(found, dict) else None
        events = audit.get("events") if isinstance(audit, dict) else None
        comment = next((e for e in events or [] if isinstance(e, dict) and e.get("type") == "Comment"), None)
        record = (comment or {}).get("id") or (audit or {}).get("id")
        if not record:
            raise PermanentProviderError("zendesk: the comment answered no audit", code="no_id")
        return str(record)

    def create_user(self, name: str, email: str, phone: str) -> str:
        """An end user (`POST /api/v2/users.json`), for the demo's requester."""
        found = self._object("user", "POST", "/api/v2/users.json", json_body={"user": {
            "name": name, "email": email, "phone": phone, "role": "end-user"}}, ambiguous_after_send=True)
        if not found.get("id"):
            raise PermanentProviderError("zendesk: the create answered no id", code="no_id")
        return str(found["id"])

    def open_ticket(self, requester_id: str, subject: str, body: str, fields: Mapping[str, str]) -> str:
        """A ticket from the requester with custom field values (the demo's appointment ticket)."""
        found = self._object("ticket", "POST", "/api/v2/tickets.json", json_body={"ticket": {
            "subject": subject, "comment": {"body": body}, "requester_id": int(requester_id),
            "custom_fields": [{"id": int(k), "value": v} for k, v in fields.items()]}}, ambiguous_after_send=True)
        if not found.get("id"):
            raise PermanentProviderError("zendesk: the create answered no id", code="no_id")
        return str(found["id"])

    def create_ticket(self, requester_id: str | None, subject: str, body: str, assignee_id: str | None) -> str:
        ticket: dict[str, Any] = {"subject": subject, "comment": {"body": body, "public": False},
                                  "tags": ["noshow_follow_up"]}
        if requester_id:
            ticket["requester_id"] = int(requester_id)
        if assignee_id:
            ticket["assignee_id"] = int(assignee_id)
        found = self._object("ticket", "POST", "/api/v2/tickets.json", json_body={"ticket": ticket},
                             ambiguous_after_send=True)
        if not found.get("id"):
            raise PermanentProviderError("zendesk: the create answered no id", code="no_id")
        return str(found["id"])


# 4xx refusals mapped here (not 408 / 429, which stay retryable in the shared mapping)
_REFUSALS = frozenset({400, 401, 402, 403, 404, 405, 409, 410, 413, 415, 422})
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,60}$")


def _code(response: httpx.Response) -> str:
    """The `error` code when it is one (`RecordNotFound`); a 401 sends a sentence there, which stays out."""
    try:
        body = response.json()
    except ValueError:
        body = None
    given = body.get("error") if isinstance(body, dict) else None
    if isinstance(given, dict):
        given = given.get("title")
    return given if isinstance(given, str) and _CODE.match(given) else str(response.status_code)


def custom_values(ticket: Mapping[str, Any]) -> dict[str, Any]:
    """`custom_fields: [{"id", "value"}]` as field id -> value."""
    rows = ticket.get("custom_fields")
    return {str(f["id"]): f.get("value") for f in rows or [] if isinstance(f, dict) and f.get("id") is not None} \
        if isinstance(rows, list) else {}
