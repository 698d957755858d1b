"""Salesforce REST API client: SOQL queries, sObject rows, and the access token from the JWT bearer flow.

References (Salesforce's public documentation):
- REST resources: query https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm
  (`done`, `totalSize`, `records`, `nextRecordsUrl` followed until `done` is true), queryAll (deleted rows too)
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_queryall.htm, sObject rows
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_basic_info.htm
  (POST creates -> 201 `{"id", "success", "errors"}`, PATCH updates -> 204), the resources of a version
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_discoveryresource.htm.
- Errors: a JSON array `[{"message", "errorCode", "fields"}]`; 401 `INVALID_SESSION_ID` when the session expired
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm.
- OAuth 2.0 JWT bearer flow https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm: the
  token response names the org's `instance_url`, which is the base of every call; it carries no refresh token,
  so an expired session (401) repeats the grant (`TokenManager.invalidate`).
- SOQL datetime literals are unquoted ISO-8601 with a zone; string literals are quoted with `\\` and `'`
  escaped https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_quotedstringescapes.htm.

Salesforce has no idempotency key on creates: connectors/local/remote_creates.py keeps one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.contract import PermanentProviderError
from connectors.http import JsonApi, segment
from connectors.oauth import TokenManager, TokenSource, current_token

DEFAULT_API_VERSION = "62.0"
# every 3xx/4xx but 408 and 429 comes back to `request`, which reads Salesforce's own error code
_OWN_ERRORS = tuple(s for s in range(300, 500) if s not in (408, 429))


def soql_string(value: str) -> str:
    """A quoted SOQL string literal."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    return f"'{escaped}'"


def soql_like(value: str) -> str:
    """A LIKE pattern matching `value` anywhere (its own `%` and `_` escaped)."""
    return soql_string("%" + value.replace("%", "\\%").replace("_", "\\_") + "%")


def soql_datetime(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    first = body[0] if isinstance(body, list) and body else body
    if isinstance(first, dict):
        for key in ("errorCode", "error"):
            if isinstance(first.get(key), str) and first[key]:
                return str(first[key])[:80]
    return None


class SalesforceClient(JsonApi):
    """`token`: a TokenManager over the JWT bearer grant (its `instance_url` is the base) or a static token with
    `instance_url` given. `instance_url` set explicitly wins over the token response's."""

    provider = "salesforce"

    def __init__(self, token: TokenSource, instance_url: str | None = None,
                 api_version: str = DEFAULT_API_VERSION, timeout: float = 10.0,
                 http: httpx.Client | None = None) -> None:
        super().__init__(instance_url or "", {"Accept": "application/json"}, timeout, http)
        self.token = token
        self.api_version = api_version.removeprefix("v")

    def instance(self) -> str:
        if self.base_url:
            return self.base_url
        if isinstance(self.token, TokenManager):
            url = self.token.token().instance_url
            if url:
                return url.rstrip("/")
        raise PermanentProviderError("salesforce: no instance URL (the token response named none and "
                                     "NOSHOW_SALESFORCE_INSTANCE_URL is not set)", code="no_instance_url")

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.instance()}/{path.lstrip('/')}"

    def data(self, rest: str = "") -> str:
        return f"/services/data/v{self.api_version}/{rest}"

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        extra = dict(kwargs.pop("headers", None) or {})
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {current_token(self.token)}", **extra}
            response = super().request(method, path, headers=headers, ok=_OWN_ERRORS, **kwargs)
            if response.status_code < 300:
                return response
            if response.status_code == 401 and attempt == 1 and isinstance(self.token, TokenManager):
                self.token.invalidate()  # the session timed out: a new JWT grant, then once more
                continue
            code = error_code(response) or str(response.status_code)
            raise PermanentProviderError(f"salesforce HTTP {response.status_code} ({code})", code=code)
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ reads
    def resources(self) -> dict[str, Any]:
        """The resources of the API version: the cheapest authenticated read (`noshow connectors check --live`)."""
        return dict(self.call("GET", self.data()) or {})

    def query(self, soql: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every row of a SOQL query, following `nextRecordsUrl`."""
        page = self.call("GET", self.data("queryAll/" if include_deleted else "query/"), params={"q": soql}) or {}
        rows: list[dict[str, Any]] = []
        while True:
            rows.extend(r for r in page.get("records") or [] if isinstance(r, dict))
            following = page.get("nextRecordsUrl")
            if page.get("done", True) or not isinstance(following, str) or not following.startswith("/services/"):
                return rows
            page = self.call("GET", following) or {}

    def get(self, sobject: str, record_id: str, fields: list[str]) -> dict[str, Any]:
        return dict(self.call("GET", self.data(f"sobjects/{segment(sobject)}/{segment(record_id)}"),
                              params={"fields": ",".join(fields)}) or {})

    # ------------------------------------------------------------------ writes
    def create(self, sobject: str, fields: Mapping[str, Any]) -> str:
        # no idempotency key: a reset after sending is ambiguous, and the caller's create log searches first
        body = self.call("POST", self.data(f"sobjects/{segment(sobject)}/"), json_body=dict(fields),
                         ambiguous_after_send=True) or {}
        record_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(record_id, str) or not record_id:
            raise PermanentProviderError("salesforce: the create answered no id", code="no_id")
        return record_id

    def update(self, sobject: str, record_id: str, fields: Mapping[str, Any]) -> None:
        self.call("PATCH", self.data(f"sobjects/{segment(sobject)}/{segment(record_id)}"), json_body=dict(fields))
