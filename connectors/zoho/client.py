"""Zoho CRM REST API client (v7): records, deleted records, search, and the notification (watch) channels.

References (Zoho's public documentation):
- Records: `GET/POST /crm/v7/{module}`, `GET/PUT /crm/v7/{module}/{id}` with `{"data": [...]}` bodies; each
  record in an answer carries `code` / `status` (`SUCCESS` / `success`, or an error code such as `INVALID_DATA`)
  https://www.zoho.com/crm/developer/docs/api/v7/get-records.html,
  https://www.zoho.com/crm/developer/docs/api/v7/insert-records.html,
  https://www.zoho.com/crm/developer/docs/api/v7/update-records.html. `If-Modified-Since` returns only records
  modified after it (304 when none); `info.more_records` says another page follows.
- Deleted records: `GET /crm/v7/{module}/deleted`
  https://www.zoho.com/crm/developer/docs/api/v7/get-deleted-records.html.
- Search: `GET /crm/v7/{module}/search?word=` (204 when nothing matches)
  https://www.zoho.com/crm/developer/docs/api/v7/search-records.html.
- Notifications: `POST/PUT/GET /crm/v7/actions/watch`
  https://www.zoho.com/crm/developer/docs/api/v7/notifications/enable.html.
- Auth header `Authorization: Zoho-oauthtoken <access token>`; the token response's `api_domain` is the base of
  every call https://www.zoho.com/crm/developer/docs/api/v7/oauth-overview.html. An `INVALID_TOKEN` 401 means
  the access token expired early: it is refreshed once and the call repeated.

Zoho has no idempotency key on creates: connectors/local/remote_creates.py keeps one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.contract import PermanentProviderError
from connectors.http import JsonApi, error_from_response, segment
from connectors.oauth import TokenManager, TokenSource, current_token

DEFAULT_API_DOMAIN = "https://www.zohoapis.com"


def zoho_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _first(body: Any) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    first = data[0] if isinstance(data, list) and data else None
    return first if isinstance(first, dict) else {}


def record_result(body: Any, what: str) -> dict[str, Any]:
    """The one record of a write's answer; a per-record error is a PermanentProviderError with Zoho's code."""
    items = (body.get("data") if "data" in body else body.get("watch")) if isinstance(body, dict) else None
    first = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}
    if str(first.get("status") or "").lower() != "success":
        code = str(first.get("code") or "no_result")[:80]
        raise PermanentProviderError(f"zoho: {what} refused ({code})", code=code)
    return first


class ZohoClient(JsonApi):
    """`token`: a TokenManager over the refresh-token grant (its `api_domain` is the base) or a static token.
    `api_domain` set explicitly wins; `default_domain` is the data centre's when the token names none."""

    provider = "zoho"

    def __init__(self, token: TokenSource, api_domain: str | None = None, default_domain: str = DEFAULT_API_DOMAIN,
                 api_version: str = "v7", timeout: float = 10.0, http: httpx.Client | None = None) -> None:
        super().__init__(api_domain or "", {"Accept": "application/json"}, timeout, http)
        self.token, self.default_domain, self.api_version = token, default_domain.rstrip("/"), api_version

    def domain(self) -> str:
        if self.base_url:
            return self.base_url
        if isinstance(self.token, TokenManager):
            named = self.token.token().instance_url
            if named:
                return named.rstrip("/")
        return self.default_domain

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.domain()}/{path.lstrip('/')}"

    def crm(self, rest: str) -> str:
        return f"/crm/{self.api_version}/{rest}"

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        extra = dict(kwargs.pop("headers", None) or {})
        ok = tuple(kwargs.pop("ok", ()))
        refreshable = isinstance(self.token, TokenManager)
        while True:
            headers = {"Authorization": f"Zoho-oauthtoken {current_token(self.token)}", **extra}
            response = super().request(method, path, headers=headers, ok=(*ok, 401), **kwargs)
            if response.status_code != 401:
                return response
            # a static token would only be refused again: one refresh for a manager, none otherwise
            if not refreshable or not isinstance(self.token, TokenManager):
                raise error_from_response(response, self.provider)
            self.token.invalidate()
            refreshable = False

    # ------------------------------------------------------------------ reads
    def records(self, module: str, fields: list[str], modified_since: datetime | None = None,
                per_page: int = 200) -> list[dict[str, Any]]:
        """Every record (oldest change first), only those modified after `modified_since` when given."""
        headers = {"If-Modified-Since": zoho_time(modified_since)} if modified_since else {}
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            response = self.request("GET", self.crm(segment(module)), headers=headers, ok=(304,), params={
                "fields": ",".join(fields), "page": page, "per_page": per_page, "sort_by": "Modified_Time",
                "sort_order": "asc"})
            if response.status_code in (204, 304) or not response.content:
                return out
            body = response.json()
            out.extend(r for r in body.get("data") or [] if isinstance(r, dict))
            if not (body.get("info") or {}).get("more_records"):
                return out
            page += 1

    def deleted(self, module: str, since: datetime) -> list[dict[str, Any]]:
        response = self.request("GET", self.crm(f"{segment(module)}/deleted"), ok=(304,), params={"type": "all"},
                                headers={"If-Modified-Since": zoho_time(since)})
        if response.status_code in (204, 304) or not response.content:
            return []
        return [r for r in response.json().get("data") or [] if isinstance(r, dict)]

    def get(self, module: str, record_id: str, fields: list[str]) -> dict[str, Any]:
        body = self.call("GET", self.crm(f"{segment(module)}/{segment(record_id)}"),
                         params={"fields": ",".join(fields)})
        return _first(body)

    def search_word(self, module: str, word: str) -> str | None:
        body = self.call("GET", self.crm(f"{segment(module)}/search"), params={"word": word, "per_page": 1})
        found = _first(body).get("id")
        return str(found) if found else None

    # ------------------------------------------------------------------ writes
    def create(self, module: str, fields: Mapping[str, Any]) -> str:
        body = self.call("POST", self.crm(segment(module)), json_body={"data": [dict(fields)]},
                         ambiguous_after_send=True)
        record_id = (record_result(body, f"create {module}").get("details") or {}).get("id")
        if not record_id:
            raise PermanentProviderError("zoho: the create answered no id", code="no_id")
        return str(record_id)

    def update(self, module: str, record_id: str, fields: Mapping[str, Any]) -> None:
        body = self.call("PUT", self.crm(f"{segment(module)}/{segment(record_id)}"), json_body={"data": [dict(fields)]})
        record_result(body, f"update {module}")

    # ------------------------------------------------------------------ notification channels
    def watching(self) -> list[dict[str, Any]]:
        response = self.request("GET", self.crm("actions/watch"))
        if response.status_code == 204 or not response.content:
            return []
        return [w for w in response.json().get("watch") or [] if isinstance(w, dict)]

    def watch(self, channel: dict[str, Any], replace: bool) -> None:
        body = self.call("PUT" if replace else "POST", self.crm("actions/watch"), json_body={"watch": [channel]})
        record_result(body, "watch")
