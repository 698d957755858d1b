"""QuickBooks Online Accounting API v3 client: invoices, customers, change data capture and the company info.

References (Intuit's public documentation):
- Base `https://quickbooks.api.intuit.com/v3` (sandbox `https://sandbox-quickbooks.api.intuit.com/v3`), paths
  `/company/{realmId}/{entity}/{id}`, every call with `?minorversion=N`
  https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/minor-versions.
- Invoice https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/invoice, customer
  .../all-entities/customer, company info .../all-entities/companyinfo: answers wrap the entity by name
  (`{"Invoice": {...}, "time"}`).
- Change data capture: `GET /company/{realmId}/cdc?entities=Invoice&changedSince=<ISO 8601>` answers
  `{"CDCResponse": [{"QueryResponse": [{"Invoice": [...]}]}], "time"}`; a deleted object carries only `Id`,
  `status: "Deleted"` and `MetaData`
  https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/change-data-capture.
- Creates: `POST /company/{realmId}/{entity}` with `?requestid=` (idempotent), void:
  `POST /company/{realmId}/invoice?operation=void` with `Id` + `SyncToken`; items by the query endpoint
  `GET /company/{realmId}/query?query=select ... from Item where Name = '...'`
  https://developer.intuit.com/app/developer/qbo/docs/learn/rest-api-features#idempotency.
- Auth: `Authorization: Bearer <access token>` from OAuth 2.0 (connectors/oauth.py `TokenManager`).
- Refusals are `{"Fault": {"Error": [{"Message", "Detail", "code"}], "type"}}`; `Detail` can quote a record, so
  only the status and `code` reach an exception.
UNVERIFIED: the 30-day CDC lookback and the deleted-object shape come from third-party notes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.contract import PermanentProviderError
from connectors.http import JsonApi, check, segment
from connectors.oauth import TokenManager, TokenSource, current_token
from connectors.quickbooks.settings import PRODUCTION


def qbo_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class QuickBooksClient(JsonApi):
    provider = "quickbooks"
    # Intuit's throttle: 500 requests a minute per company
    # https://developer.intuit.com/app/developer/qbo/docs/learn/rest-api-features#limits-and-throttles
    rate_limit = (500.0, 60.0)

    def __init__(self, oauth: TokenSource, realm_id: str, base_url: str = PRODUCTION, minorversion: int = 75,
                 timeout: float = 10.0, http: httpx.Client | None = None) -> None:
        if not realm_id:
            raise ValueError("QuickBooks needs the company's realm id")
        super().__init__(base_url, {"Accept": "application/json"}, timeout, http)
        self.oauth, self.realm_id, self.minorversion = oauth, realm_id, minorversion

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        params = {**dict(kwargs.pop("params", None) or {}), "minorversion": self.minorversion}
        ok = tuple(kwargs.pop("ok", ()))
        refresh = isinstance(self.oauth, TokenManager)
        while True:
            response = super().request(method, path, params=params, ok=(*ok, *_REFUSALS),
                                       headers={"Authorization": f"Bearer {current_token(self.oauth)}"}, **kwargs)
            if response.status_code == 401 and refresh and isinstance(self.oauth, TokenManager):
                self.oauth.invalidate()  # revoked or rotated before its hour was up: one refresh, then again
                refresh = False
                continue
            if response.status_code in _REFUSALS and response.status_code not in ok:
                code = _fault_code(response)
                raise PermanentProviderError(f"quickbooks HTTP {response.status_code} ({code})", code=code)
            return check(response, self.provider)

    def company(self, path: str) -> str:
        return f"/company/{segment(self.realm_id)}/{path}"

    def entity(self, name: str, entity_id: str) -> dict[str, Any]:
        body = self.call("GET", self.company(f"{name.lower()}/{segment(entity_id)}"))
        found = body.get(name) if isinstance(body, dict) else None
        return found if isinstance(found, dict) else {}

    def company_info(self) -> dict[str, Any]:
        return self.entity("CompanyInfo", self.realm_id)

    def create(self, name: str, fields: dict[str, Any], request_id: str) -> dict[str, Any]:
        """`POST /company/{realmId}/{entity}`; `requestid` is Intuit's idempotency key, so a retry creates once."""
        body = self.call("POST", self.company(name.lower()), json_body=fields, params={"requestid": request_id},
                         ambiguous_after_send=True)
        found = body.get(name) if isinstance(body, dict) else None
        if not isinstance(found, dict) or not found.get("Id"):
            raise PermanentProviderError(f"quickbooks: the {name} create answered no Id", code="no_id")
        return found

    def void_invoice(self, invoice: dict[str, Any], request_id: str) -> dict[str, Any]:
        """`POST /company/{realmId}/invoice?operation=void` with the invoice's `Id` and current `SyncToken`."""
        body = self.call("POST", self.company("invoice"), json_body={"Id": invoice["Id"],
                                                                     "SyncToken": invoice["SyncToken"]},
                         params={"operation": "void", "requestid": request_id}, ambiguous_after_send=True)
        found = body.get("Invoice") if isinstance(body, dict) else None
        return found if isinstance(found, dict) else {}

    def item_id(self, name: str) -> str | None:
        """The id of the item (product or service) named `name`, by the query endpoint."""
        escaped = name.replace("\\", "\\\\").replace("'", "\\'")
        body = self.call("GET", self.company("query"), params={"query": f"select Id, Name from Item where Name = "
                                                                         f"'{escaped}'"})
        items = body.get("QueryResponse", {}).get("Item") if isinstance(body, dict) else None
        first = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}
        return str(first["Id"]) if first.get("Id") else None

    def changed(self, entities: list[str], since: datetime) -> dict[str, list[dict[str, Any]]]:
        """Every object of `entities` changed since `since`, by entity name (deleted ones with `status`)."""
        body = self.call("GET", self.company("cdc"), params={"entities": ",".join(entities),
                                                             "changedSince": qbo_time(since)})
        out: dict[str, list[dict[str, Any]]] = {name: [] for name in entities}
        responses = body.get("CDCResponse") if isinstance(body, dict) else None
        for response in responses if isinstance(responses, list) else []:
            queries = response.get("QueryResponse") if isinstance(response, dict) else None
            for query in queries if isinstance(queries, list) else []:
                for name in entities:
                    rows = query.get(name) if isinstance(query, dict) else None
                    if isinstance(rows, list):
                        out[name].extend(r for r in rows if isinstance(r, dict))
        return out


_REFUSALS = frozenset({400, 401, 403, 404, 405, 409, 410, 415, 422})


def _fault_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    fault = body.get("Fault") if isinstance(body, dict) else None
    errors = fault.get("Error") if isinstance(fault, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    code = first.get("code")
    return str(code)[:40] if isinstance(code, str | int) and str(code) else str(response.status_code)
