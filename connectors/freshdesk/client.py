"""Freshdesk REST API v2 client (base `https://{domain}.freshdesk.com/api/v2`, https://developers.freshdesk.com/api/).

- Auth: HTTP Basic with the agent's API key as the user and `X` as the password (API section "Authentication").
- Tickets: `GET /api/v2/tickets/{id}`, `PUT /api/v2/tickets/{id}` (`custom_fields` keyed by `cf_` names),
  `POST /api/v2/tickets` (`subject`, `description`, `requester_id`, `status` 2 open, `priority` 1..4,
  `responder_id`), `GET /api/v2/tickets?updated_since=YYYY-MM-DDThh:mm:ssZ&order_by=updated_at&order_type=asc
  &per_page=100&page=N` (a plain JSON array; without `updated_since` only the last 30 days are listed),
  `GET /api/v2/tickets?requester_id=` (API section "Tickets").
- Notes: `POST /api/v2/tickets/{id}/notes` with `{"body": "<html>", "private": true}`; `GET
  /api/v2/tickets/{id}/conversations` lists notes and replies (API section "Conversations").
- Contacts: `GET /api/v2/contacts/{id}` (`name`, `email`, `phone`, `mobile`), `GET /api/v2/contacts?email=`,
  `POST /api/v2/contacts`.
  Agents: `GET /api/v2/agents/me`.
- Errors: `{"description": "Validation failed", "errors": [{"field", "message", "code"}]}`; rate limits are per
  plan per minute and answer 429 with `Retry-After` (API section "Rate Limit").
UNVERIFIED: all of the above is read from consistent third-party clients, not quoted from the API page; the
per-plan numbers (the bucket below assumes the smallest paid plan's 100 calls a minute); the page limit of the
ticket list. The Sprout plan has no API (https://support.freshdesk.com/support/solutions/folders/272646).
Error messages can echo a ticket's content: only the status and the first error's `code` reach an exception.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.contract import PermanentProviderError
from connectors.crm_fields import UNKNOWN_CONTACT
from connectors.http import JsonApi, segment

PAGE_SIZE = 100


def freshdesk_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FreshdeskClient(JsonApi):
    provider = "freshdesk"
    rate_limit = (100.0, 60.0)

    def __init__(self, base_url: str, api_key: str, timeout: float = 10.0, http: httpx.Client | None = None) -> None:
        if not api_key:
            raise ValueError("Freshdesk needs an agent's API key")
        basic = base64.b64encode(f"{api_key}:X".encode()).decode()
        super().__init__(base_url, {"Accept": "application/json", "Authorization": f"Basic {basic}"}, timeout, http)

    def _object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        found = self.call(method, path, **kwargs)
        return found if isinstance(found, dict) else {}

    def _list(self, path: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        found = self.call("GET", path, params=params)
        return [r for r in found if isinstance(r, dict)] if isinstance(found, list) else []

    # ------------------------------------------------------------------ reads
    def me(self) -> dict[str, Any]:
        return self._object("GET", "/api/v2/agents/me")

    def contact(self, contact_id: str) -> dict[str, Any]:
        return self._object("GET", f"/api/v2/contacts/{segment(contact_id)}")

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        return self._object("GET", f"/api/v2/tickets/{segment(ticket_id)}")

    def field_values(self, ticket_id: str) -> dict[str, Any]:
        custom = self.ticket(ticket_id).get("custom_fields")
        return dict(custom) if isinstance(custom, dict) else {}

    def notes(self, ticket_id: str) -> list[tuple[str, str]]:
        rows = self._list(f"/api/v2/tickets/{segment(ticket_id)}/conversations", {"per_page": PAGE_SIZE})
        return [(str(r.get("id")), str(r.get("body_text") or r.get("body") or "")) for r in rows]

    def requested_tickets(self, requester_id: str) -> list[dict[str, Any]]:
        return self._list("/api/v2/tickets", {"requester_id": requester_id, "order_by": "updated_at",
                                              "order_type": "desc", "per_page": PAGE_SIZE})

    def requester_by_email(self, email: str) -> str | None:
        rows = self._list("/api/v2/contacts", {"email": email})
        return str(rows[0]["id"]) if rows and rows[0].get("id") else None

    def updated(self, since: datetime, page: int) -> list[dict[str, Any]]:
        """One page of the tickets updated at or after `since`, oldest change first."""
        return self._list("/api/v2/tickets", {"updated_since": freshdesk_time(since), "order_by": "updated_at",
                                              "order_type": "asc", "per_page": PAGE_SIZE, "page": page})

    # ------------------------------------------------------------------ writes
    def set_fields(self, ticket_id: str, values: Mapping[str, str | None]) -> None:
        self.call("PUT", f"/api/v2/tickets/{segment(ticket_id)}", json_body={"custom_fields": dict(values)})

    def add_note(self, ticket_id: str, body: str) -> str:
        return self._created(f"/api/v2/tickets/{segment(ticket_id)}/notes", {"body": body, "private": True})

    def create_contact(self, name: str, email: str, phone: str) -> str:
        """A contact (`POST /api/v2/contacts`), for the demo's requester."""
        return self._created("/api/v2/contacts", {"name": name, "email": email, "mobile": phone})

    def open_ticket(self, requester_id: str, subject: str, body: str, fields: Mapping[str, str]) -> str:
        """A ticket from the requester with custom field values (the demo's appointment ticket)."""
        return self._created("/api/v2/tickets", {"subject": subject, "description": body,
                                                 "requester_id": int(requester_id), "status": 2, "priority": 1,
                                                 "custom_fields": dict(fields)})

    def create_ticket(self, requester_id: str | None, subject: str, body: str, assignee_id: str | None) -> str:
        if not requester_id:
            # a ticket must have a requester: with none known, the local task is the only record
            raise PermanentProviderError("freshdesk: a ticket needs a requester", code=UNKNOWN_CONTACT)
        ticket: dict[str, Any] = {"subject": subject, "description": body, "requester_id": int(requester_id),
                                  "status": 2, "priority": 2}
        if assignee_id:
            ticket["responder_id"] = int(assignee_id)
        return self._created("/api/v2/tickets", ticket)

    def _created(self, path: str, body: dict[str, Any]) -> str:
        found = self._object("POST", path, json_body=body, ambiguous_after_send=True)
        if not found.get("id"):
            raise PermanentProviderError("freshdesk: the create answered no id", code="no_id")
        return str(found["id"])
