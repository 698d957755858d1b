"""Pipedrive REST client: activities (API v2), persons and deals (v2), notes and the current user (v1).

References (Pipedrive's public documentation):
- Base URL `https://{companydomain}.pipedrive.com/api/v2/...` and `/api/v1/...`; an OAuth token's answer names
  the company's `api_domain` https://pipedrive.readme.io/docs/marketplace-oauth-authorization.
- Auth: an API token in the `x-api-token` header, or `Authorization: Bearer <OAuth access token>`
  https://pipedrive.readme.io/docs/core-api-concepts-authentication.
- Activities v2: `GET /api/v2/activities` (`updated_since` RFC 3339, `sort_by=update_time`, `limit` up to 500,
  `cursor`, `additional_data.next_cursor`), `GET/PATCH /api/v2/activities/{id}`, `POST /api/v2/activities`
  with `subject`, `type`, `owner_id`, `person_id`, `deal_id`, `due_date` (YYYY-MM-DD), `due_time` (HH:MM, UTC),
  `duration` (HH:MM), `done` https://developers.pipedrive.com/docs/api/v1/Activities (v2 section).
- Persons and deals v2: `GET/PATCH /api/v2/persons/{id}`, `/api/v2/deals/{id}` with `custom_fields` keyed by
  the field's key; `GET /api/v2/persons/search?term=&fields=email&exact_match=true`
  https://developers.pipedrive.com/docs/api/v1/Persons, https://developers.pipedrive.com/docs/api/v1/Deals.
- Notes v1: `POST /api/v1/notes` (`content`, `person_id`, `deal_id`), `GET /api/v1/notes?person_id=`
  https://developers.pipedrive.com/docs/api/v1/Notes. Current user: `GET /api/v1/users/me`.
- Answers are `{"success": true, "data": ...}`; refusals `{"success": false, "error", "errorCode",
  "error_info"}`. Rate limits answer 429 https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting.
Error messages can name a record's content: only the status and `errorCode` / `code` reach an exception.
UNVERIFIED: the `custom_fields` shape of the v2 PATCH beyond the official SDK's request models, and the code
field of v2 refusals.

Pipedrive has no idempotency key on creates: connectors/local/remote_creates.py keeps one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.contract import PermanentProviderError
from connectors.http import JsonApi, check, segment
from connectors.oauth import TokenManager, TokenSource, current_token

DEFAULT_API_DOMAIN = "https://api.pipedrive.com"


def pipedrive_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PipedriveClient(JsonApi):
    """`api_token` (static, `x-api-token`) or `oauth` (a TokenManager or token: Bearer, `api_domain` from the token
    response). `api_domain` set explicitly wins."""

    provider = "pipedrive"
    rate_limit = (20.0, 2.0)  # the smallest API-token burst budget (Lite plan): 20 requests per rolling 2 s

    def __init__(self, api_token: str | None = None, oauth: TokenSource | None = None, api_domain: str | None = None,
                 timeout: float = 10.0, http: httpx.Client | None = None) -> None:
        if not api_token and not oauth:
            raise ValueError("Pipedrive needs an API token or an OAuth token")
        super().__init__(api_domain or "", {"Accept": "application/json"}, timeout, http)
        self.api_token, self.oauth = api_token, oauth

    def domain(self) -> str:
        if self.base_url:
            return self.base_url
        if isinstance(self.oauth, TokenManager):
            named = self.oauth.token().instance_url
            if named:
                return named.rstrip("/")
        return DEFAULT_API_DOMAIN

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.domain()}/{path.lstrip('/')}"

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        extra = dict(kwargs.pop("headers", None) or {})
        ok = tuple(kwargs.pop("ok", ()))
        refresh = isinstance(self.oauth, TokenManager) and not self.api_token
        while True:
            auth = {"x-api-token": self.api_token} if self.api_token else {
                "Authorization": f"Bearer {current_token(self.oauth or '')}"}
            response = super().request(method, path, headers={**auth, **extra}, ok=(*ok, *_REFUSALS), **kwargs)
            if response.status_code == 401 and refresh and isinstance(self.oauth, TokenManager):
                self.oauth.invalidate()  # revoked before its hour was up: one refresh, then the call again
                refresh = False
                continue
            if response.status_code in _REFUSALS and response.status_code not in ok:
                raise PermanentProviderError(f"pipedrive HTTP {response.status_code} ({_code(response)})",
                                             code=_code(response))
            return check(response, self.provider)

    def data(self, method: str, path: str, **kwargs: Any) -> Any:
        body = self.call(method, path, **kwargs)
        return body.get("data") if isinstance(body, dict) else None

    # ------------------------------------------------------------------ reads
    def me(self) -> dict[str, Any]:
        found = self.data("GET", "/api/v1/users/me")
        return found if isinstance(found, dict) else {}

    def activities(self, updated_since: datetime, limit: int = 500, **filters: Any) -> list[dict[str, Any]]:
        """Every activity updated at or after `updated_since`, oldest change first, across cursor pages."""
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"updated_since": pipedrive_time(updated_since), "sort_by": "update_time",
                                      "sort_direction": "asc", "limit": limit, **filters}
            if cursor:
                params["cursor"] = cursor
            body = self.call("GET", "/api/v2/activities", params=params)
            rows = body.get("data") if isinstance(body, dict) else None
            out.extend(r for r in rows or [] if isinstance(r, dict))
            extra = body.get("additional_data") if isinstance(body, dict) else None
            cursor = extra.get("next_cursor") if isinstance(extra, dict) else None
            if not cursor:
                return out

    def activity(self, activity_id: str) -> dict[str, Any]:
        found = self.data("GET", f"/api/v2/activities/{segment(activity_id)}")
        return found if isinstance(found, dict) else {}

    def record(self, kind: str, record_id: str) -> dict[str, Any]:
        """A person or a deal (`kind` is `persons` or `deals`)."""
        found = self.data("GET", f"/api/v2/{kind}/{segment(record_id)}")
        return found if isinstance(found, dict) else {}

    def person_by_email(self, email: str) -> str | None:
        found = self.data("GET", "/api/v2/persons/search", params={"term": email, "fields": "email",
                                                                   "exact_match": "true", "limit": 1})
        items = found.get("items") if isinstance(found, dict) else None
        first = items[0].get("item") if isinstance(items, list) and items and isinstance(items[0], dict) else None
        return str(first["id"]) if isinstance(first, dict) and first.get("id") else None

    def notes(self, person_id: str) -> list[dict[str, Any]]:
        found = self.data("GET", "/api/v1/notes", params={"person_id": person_id, "limit": 100,
                                                          "sort": "add_time DESC"})
        return [n for n in found or [] if isinstance(n, dict)] if isinstance(found, list) else []

    # ------------------------------------------------------------------ writes
    def update(self, kind: str, record_id: str, fields: Mapping[str, Any]) -> None:
        self.call("PATCH", f"/api/v2/{kind}/{segment(record_id)}", json_body=dict(fields))

    def create(self, path: str, fields: Mapping[str, Any]) -> str:
        found = self.data("POST", path, json_body=dict(fields), ambiguous_after_send=True)
        if not isinstance(found, dict) or not found.get("id"):
            raise PermanentProviderError("pipedrive: the create answered no id", code="no_id")
        return str(found["id"])

    def set_done(self, activity_id: str, done: bool) -> None:
        """Mark an activity done or not done again."""
        self.update("activities", activity_id, {"done": done})


# 4xx refusals mapped here (not 408 / 429, which stay retryable in the shared mapping)
_REFUSALS = frozenset({400, 401, 402, 403, 404, 405, 409, 410, 415, 422})


def _code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("errorCode", "code"):
            value = body.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return str(value)[:40] if not str(value).isdigit() else _NAMES.get(int(value), str(value))
    return _NAMES.get(response.status_code, str(response.status_code))


_NAMES = {400: "bad_request", 401: "unauthorized", 402: "payment_required", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 410: "gone", 415: "unsupported_media_type",
          422: "unprocessable_entity"}
