"""A fake Airtable base, from Airtable's Web API reference (https://airtable.com/developers/web/api):
- `GET /v0/{baseId}/{table}` with `pageSize`, `offset` and `filterByFormula` (only
  `IS_AFTER(LAST_MODIFIED_TIME(), '<ISO>')` is evaluated; others list everything), `GET .../{recordId}`
  (404 `{"error": "NOT_FOUND"}`), `PATCH /v0/{baseId}/{table}` updating only the named fields (more than 10
  records: 422 `INVALID_RECORDS`);
- `POST /v0/{baseId}/{table}` creating records;
- `GET /v0/bases/{baseId}/webhooks/{webhookId}/payloads?cursor=` answering `{cursor, mightHaveMore, payloads}`
  (`page_size` payloads a page), `POST .../refresh` answering `{expirationTime}`;
- a personal access token as bearer (401 `AUTHENTICATION_REQUIRED`);
- `notification()` signs a ping as Airtable does: `hmac-sha256=` + hex HMAC-SHA256 under the base64-decoded
  `macSecretBase64`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest

MAC_SECRET = "c3VwZXIgZHVwZXIgc2VjcmV0"  # pyairtable's docstring example ("super duper secret")
_AFTER = re.compile(r"^IS_AFTER\(LAST_MODIFIED_TIME\(\), '([^']+)'\)$")


class AirtableFake(FakeServer):
    def __init__(self, base_id: str, table: str, webhook_id: str, token: str = "pat-test", page_size: int = 2
                 ) -> None:
        self.base_id, self.table, self.webhook_id, self.token = base_id, table, webhook_id, token
        self.page_size = page_size
        self.records: dict[str, dict[str, Any]] = {}
        self.modified: dict[str, datetime] = {}
        self.payloads: list[dict[str, Any]] = []
        self.expiration = datetime(2026, 12, 10, tzinfo=UTC)
        super().__init__()

    # ------------------------------------------------------------ test helpers
    def put(self, record_id: str, fields: dict[str, Any], at: datetime, table_id: str = "tblAppointments0",
            created: bool = False) -> None:
        """Create or change a record and queue the payload its webhook would list."""
        self.records[record_id] = {"id": record_id, "createdTime": at.isoformat(), "fields": dict(fields)}
        self.modified[record_id] = at
        key = "createdRecordsById" if created else "changedRecordsById"
        body = {"cellValuesByFieldId": dict(fields)}
        self.payloads.append({
            "timestamp": at.isoformat(), "baseTransactionNumber": len(self.payloads) + 1, "payloadFormat": "v0",
            "actionMetadata": {"source": "client", "sourceMetadata": {}},
            "changedTablesById": {table_id: {key: {record_id: body if created else {"current": body}}}}})

    def notification(self, base_id: str | None = None) -> tuple[bytes, str]:
        body = json.dumps({"base": {"id": base_id or self.base_id}, "webhook": {"id": self.webhook_id},
                           "timestamp": "2026-12-03T12:00:00.000Z"}, separators=(",", ":")).encode()
        mac = hmac.new(base64.b64decode(MAC_SECRET), body, hashlib.sha256).hexdigest()
        return body, "hmac-sha256=" + mac

    # ------------------------------------------------------------ routes
    def setup_routes(self) -> None:
        self.route("GET", r"/v0/bases/([^/]+)/webhooks/([^/]+)/payloads", self._payloads)
        self.route("POST", r"/v0/bases/([^/]+)/webhooks/([^/]+)/refresh", self._refresh)
        self.route("GET", r"/v0/([^/]+)/([^/]+)/([^/]+)", self._record)
        self.route("GET", r"/v0/([^/]+)/([^/]+)", self._list)
        self.route("PATCH", r"/v0/([^/]+)/([^/]+)", self._patch)
        self.route("POST", r"/v0/([^/]+)/([^/]+)", self._create)

    def _denied(self, req: RecordedRequest, base_id: str) -> FakeResponse | None:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return FakeResponse(401, {"error": {"type": "AUTHENTICATION_REQUIRED",
                                                "message": "Authentication required"}})
        if base_id != self.base_id:
            return FakeResponse(404, {"error": "NOT_FOUND"})
        return None

    def _list(self, req: RecordedRequest, m: Any) -> FakeResponse:
        denied = self._denied(req, m.group(1))
        if denied or m.group(2) != self.table:
            return denied or FakeResponse(404, {"error": "NOT_FOUND"})
        ids = sorted(self.records)
        after = _AFTER.match(req.query.get("filterByFormula", ""))
        if after:
            since = datetime.fromisoformat(after.group(1).replace("Z", "+00:00"))
            ids = [i for i in ids if self.modified[i] > since]
        start = int(req.query.get("offset") or 0)
        size = min(int(req.query.get("pageSize") or 100), self.page_size)
        body: dict[str, Any] = {"records": [self.records[i] for i in ids[start:start + size]]}
        if start + size < len(ids):
            body["offset"] = str(start + size)
        return FakeResponse(200, body)

    def _record(self, req: RecordedRequest, m: Any) -> FakeResponse:
        denied = self._denied(req, m.group(1))
        record = self.records.get(m.group(3))
        if denied or record is None or m.group(2) != self.table:
            return denied or FakeResponse(404, {"error": "NOT_FOUND"})
        return FakeResponse(200, record)

    def _patch(self, req: RecordedRequest, m: Any) -> FakeResponse:
        denied = self._denied(req, m.group(1))
        if denied:
            return denied
        records = (req.json() or {}).get("records") or []
        if len(records) > 10:
            return FakeResponse(422, {"error": {"type": "INVALID_RECORDS", "message": "at most 10 records"}})
        out = []
        for item in records:
            record = self.records.get(item.get("id"))
            if record is None:
                return FakeResponse(404, {"error": "NOT_FOUND"})
            record["fields"].update(item.get("fields") or {})
            out.append(record)
        return FakeResponse(200, {"records": out})

    def _create(self, req: RecordedRequest, m: Any) -> FakeResponse:
        denied = self._denied(req, m.group(1))
        if denied or m.group(2) != self.table:
            return denied or FakeResponse(404, {"error": "NOT_FOUND"})
        out = []
        for item in (req.json() or {}).get("records") or []:
            record_id = f"rec{len(self.records) + 1:014d}"
            self.put(record_id, item.get("fields") or {}, datetime.now(UTC), created=True)
            out.append(self.records[record_id])
        return FakeResponse(200, {"records": out})

    def _payloads(self, req: RecordedRequest, m: Any) -> FakeResponse:
        denied = self._denied(req, m.group(1))
        if denied or m.group(2) != self.webhook_id:
            return denied or FakeResponse(404, {"error": "NOT_FOUND"})
        cursor = int(req.query.get("cursor") or 1)
        page = self.payloads[cursor - 1:cursor - 1 + self.page_size]
        following = cursor + len(page)
        return FakeResponse(200, {"cursor": following, "mightHaveMore": following <= len(self.payloads),
                                  "payloads": page})

    def _refresh(self, req: RecordedRequest, m: Any) -> FakeResponse:
        denied = self._denied(req, m.group(1))
        if denied or m.group(2) != self.webhook_id:
            return denied or FakeResponse(404, {"error": "NOT_FOUND"})
        self.expiration += timedelta(days=7)
        return FakeResponse(200, {"expirationTime": self.expiration.isoformat().replace("+00:00", ".000Z")})
