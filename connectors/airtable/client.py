"""Airtable Web API client (base `https://api.airtable.com/v0`), a personal access token as a bearer
(https://airtable.com/developers/web/api/authentication):
- records: `GET /v0/{baseId}/{table}` with `filterByFormula`, `pageSize` and `offset` paging, `GET
  /v0/{baseId}/{table}/{recordId}`, `PATCH /v0/{baseId}/{table}` `{"records": [{"id", "fields"}]}` (at most 10
  records a request), `POST /v0/{baseId}/{table}` `{"records": [{"fields"}]}`
  (https://airtable.com/developers/web/api/list-records, https://airtable.com/developers/web/api/create-records,
  https://airtable.com/developers/web/api/update-multiple-records);
- webhooks: `GET /v0/bases/{baseId}/webhooks/{webhookId}/payloads?cursor=` answering `{cursor, mightHaveMore,
  payloads}`, `POST /v0/bases/{baseId}/webhooks/{webhookId}/refresh` answering `{expirationTime}`
  (https://airtable.com/developers/web/api/list-webhook-payloads,
  https://airtable.com/developers/web/api/refresh-a-webhook).
5 requests per second per base, a 429 past it (https://airtable.com/developers/web/api/rate-limits): requests
are spaced to that here. Errors are `{"error": {"type", "message"}}` (or `{"error": "NOT_FOUND"}`); only the
type reaches an exception.
UNVERIFIED: the 30 s wait Airtable asks for after a 429 (no Retry-After is documented, so the activity's retry
policy waits).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from connectors.contract import PermanentProviderError
from connectors.http import segment
from connectors.oauth import BearerJsonApi, TokenSource

DEFAULT_BASE_URL = "https://api.airtable.com"
MAX_RECORDS_PER_WRITE = 10


class AirtableClient(BearerJsonApi):
    provider = "airtable"
    rate_limit = (5.0, 1.0)

    def __init__(self, token: TokenSource, base_url: str = DEFAULT_BASE_URL, timeout: float = 10.0,
                 http: httpx.Client | None = None) -> None:
        super().__init__(token, base_url, timeout, http)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        ok = tuple(kwargs.pop("ok", ()))
        response = super().request(method, path, ok=(*ok, *_REFUSALS), **kwargs)
        if response.status_code in _REFUSALS and response.status_code not in ok:
            code = _error_type(response)
            raise PermanentProviderError(f"airtable HTTP {response.status_code} ({code})", code=code)
        return response

    def records(self, base_id: str, table: str, formula: str | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        offset: str | None = None
        while True:
            params: dict[str, Any] = {"pageSize": 100}
            if formula:
                params["filterByFormula"] = formula
            if offset:
                params["offset"] = offset
            body = self.call("GET", f"/v0/{segment(base_id)}/{segment(table)}", params=params)
            body = body if isinstance(body, dict) else {}
            out.extend(r for r in body.get("records") or [] if isinstance(r, dict))
            offset = body.get("offset") if isinstance(body.get("offset"), str) else None
            if not offset:
                return out

    def record(self, base_id: str, table: str, record_id: str) -> dict[str, Any] | None:
        """The record, or None when it was deleted since (404)."""
        response = self.request("GET", f"/v0/{segment(base_id)}/{segment(table)}/{segment(record_id)}", ok=(404,))
        if response.status_code == 404:
            return None
        body = response.json()
        return body if isinstance(body, dict) else None

    def update(self, base_id: str, table: str, records: list[tuple[str, Mapping[str, Any]]]) -> None:
        for i in range(0, len(records), MAX_RECORDS_PER_WRITE):
            chunk = [{"id": rid, "fields": dict(fields)} for rid, fields in records[i:i + MAX_RECORDS_PER_WRITE]]
            self.call("PATCH", f"/v0/{segment(base_id)}/{segment(table)}", json_body={"records": chunk})

    def create(self, base_id: str, table: str, fields: Mapping[str, Any]) -> str:
        """One new record (`POST /v0/{baseId}/{table}` `{"records": [{"fields"}]}`); its id."""
        body = self.call("POST", f"/v0/{segment(base_id)}/{segment(table)}",
                         json_body={"records": [{"fields": dict(fields)}]}, ambiguous_after_send=True)
        records = body.get("records") if isinstance(body, dict) else None
        first = records[0] if isinstance(records, list) and records and isinstance(records[0], dict) else {}
        if not first.get("id"):
            raise PermanentProviderError("airtable: the create answered no id", code="no_id")
        return str(first["id"])

    def payloads(self, base_id: str, webhook_id: str, cursor: int | None) -> tuple[list[dict[str, Any]], int]:
        """Every payload after `cursor` (None: from the oldest kept) and the cursor to resume from."""
        out: list[dict[str, Any]] = []
        while True:
            params = {"cursor": cursor} if cursor is not None else None
            body = self.call("GET", f"/v0/bases/{segment(base_id)}/webhooks/{segment(webhook_id)}/payloads",
                             params=params)
            body = body if isinstance(body, dict) else {}
            out.extend(p for p in body.get("payloads") or [] if isinstance(p, dict))
            given = body.get("cursor")
            if not isinstance(given, int) or isinstance(given, bool):
                raise PermanentProviderError("airtable: the payload list answered no cursor", code="no_cursor")
            cursor = given
            if not body.get("mightHaveMore"):
                return out, cursor

    def refresh_webhook(self, base_id: str, webhook_id: str) -> str | None:
        """Extend the webhook's life; its new `expirationTime` (ISO), or None when the token type has none."""
        body = self.call("POST", f"/v0/bases/{segment(base_id)}/webhooks/{segment(webhook_id)}/refresh")
        expiry = body.get("expirationTime") if isinstance(body, dict) else None
        return expiry if isinstance(expiry, str) else None


# 4xx refusals mapped here (not 408 / 429, which stay retryable in the shared mapping)
_REFUSALS = frozenset({400, 401, 403, 404, 413, 422})


def _error_type(response: httpx.Response) -> str:
    """`{"error": {"type": ...}}` or `{"error": "NOT_FOUND"}`; the message can quote a record, so it is dropped."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    kind = error.get("type") if isinstance(error, dict) else error
    return str(kind)[:60] if isinstance(kind, str) and kind else str(response.status_code)
