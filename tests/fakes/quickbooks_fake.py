"""A fake QuickBooks Online company and Intuit's OAuth 2.0 token endpoint, and the signed webhooks Intuit sends.

- Token endpoint (https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/oauth-2.0):
  `POST /oauth2/v1/tokens/bearer`, the app authenticated with HTTP Basic `base64(client_id:client_secret)`, form
  `grant_type=refresh_token&refresh_token=`; the answer `{"token_type": "bearer", "access_token", "expires_in":
  3600, "refresh_token", "x_refresh_token_hard_expires_in"}` names a new refresh token each time and the old
  one stops working (the rotation the engine must keep up with); a bad client 401 `{"error":
  "invalid_client"}`, an unknown refresh token 400 `{"error": "invalid_grant"}`.
- REST under `/v3/company/{realmId}/...` with `Authorization: Bearer` (else 401 with the `AUTHENTICATION` fault),
  `minorversion` recorded on every call: `invoice/{id}`, `customer/{id}`, `companyinfo/{realmId}` (answers wrap the
  entity by name), `cdc?entities=Invoice&changedSince=` (`CDCResponse[0].QueryResponse[0].Invoice`, deleted
  invoices as `{"Id", "status": "Deleted", "MetaData"}`), `query` (`select Id, Name from Item where Name = '...'`),
  `POST customer` / `POST invoice` (`?requestid=` answered once: a repeat gets the first answer) and
  `POST invoice?operation=void` (`Id` + current `SyncToken`, else 5010 "Stale Object Error"). An unknown object
  is 400 with the `ValidationFault` code 610 "Object Not Found", as QuickBooks answers; an unknown item or
  customer on an invoice 2500 "Invalid Reference Id".
- Webhooks (https://developer.intuit.com/app/developer/qbo/docs/develop/webhooks): `intuit-signature` = base64
  HMAC-SHA256(verifier token, body).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
from datetime import UTC, datetime
from typing import Any

from connectors.inbound import opt_dt
from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest


def fault(code: str, message: str, kind: str = "ValidationFault") -> dict[str, Any]:
    return {"Fault": {"Error": [{"Message": message, "Detail": f"{message} : the object was not found",
                                 "code": code, "element": ""}], "type": kind},
            "time": "2026-01-06T07:30:00.000-08:00"}


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00"


def signed_notification(verifier: str, changes: list[tuple[str, str, str]], realm: str = "9130357766900456"
                        ) -> tuple[bytes, str]:
    """A legacy-format delivery of (entity, id, operation) changes and its `intuit-signature`."""
    entities = [{"name": name, "id": eid, "operation": op, "lastUpdated": _stamp()} for name, eid, op in changes]
    body = json.dumps({"eventNotifications": [{"realmId": realm, "dataChangeEvent": {"entities": entities}}]}).encode()
    return body, base64.b64encode(hmac.new(verifier.encode(), body, hashlib.sha256).digest()).decode()


class FakeQuickBooks(FakeServer):
    def __init__(self, realm: str = "9130357766900456", client_id: str = "qb-client", client_secret: str = "qb-secret",
                 refresh_token: str = "AB11-refresh-0", access_token: str | None = None) -> None:
        self.realm, self.client_id, self.client_secret = realm, client_id, client_secret
        self.refresh_token = refresh_token
        self.bearer: set[str] = {access_token} if access_token else set()
        self.invoices: dict[str, dict[str, Any]] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        self.items: dict[str, str] = {"Consultation": "1", "Cleaning (60 min)": "2"}  # name -> id
        self.answered: dict[str, FakeResponse] = {}  # requestid -> the answer it got
        self._n = itertools.count(100)
        super().__init__()

    # ------------------------------------------------------------ helpers for tests
    def add_customer(self, name: str, email: str | None, phone: str | None) -> str:
        cid = str(next(self._n))
        self.customers[cid] = {"Id": cid, "DisplayName": name, "SyncToken": "0",
                               **({"PrimaryEmailAddr": {"Address": email}} if email else {}),
                               **({"Mobile": {"FreeFormNumber": phone}} if phone else {})}
        return cid

    def add_invoice(self, customer: str, items: list[str], day: str, amount: float = 80.0) -> str:
        iid = str(next(self._n))
        lines = [{"Id": str(i + 1), "LineNum": i + 1, "Amount": amount, "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": {"value": str(10 + i), "name": item}, "ServiceDate": day}}
                 for i, item in enumerate(items)]
        self.invoices[iid] = {"Id": iid, "SyncToken": "0", "TxnDate": day, "Line": lines,
                              "CustomerRef": {"value": customer, "name": self.customers[customer]["DisplayName"]},
                              "TotalAmt": amount * len(items), "Balance": amount * len(items),
                              "MetaData": {"CreateTime": _stamp(), "LastUpdatedTime": _stamp()}}
        return iid

    def void(self, invoice_id: str) -> None:
        row = self.invoices[invoice_id]
        for line in row["Line"]:
            line["Amount"] = 0
        row.update(TotalAmt=0, Balance=0, PrivateNote="Voided", SyncToken=str(int(row["SyncToken"]) + 1))
        row["MetaData"]["LastUpdatedTime"] = _stamp()

    def delete(self, invoice_id: str) -> None:
        self.invoices[invoice_id] = {"Id": invoice_id, "status": "Deleted",
                                     "MetaData": {"LastUpdatedTime": _stamp()}}

    def setup_routes(self) -> None:
        self.route("POST", "/oauth2/v1/tokens/bearer$", self._token)
        self.route("GET", "/v3/company/(?P<realm>[0-9]+)/cdc$", self._cdc)
        self.route("GET", "/v3/company/(?P<realm>[0-9]+)/query$", self._query)
        self.route("POST", "/v3/company/(?P<realm>[0-9]+)/(?P<kind>invoice|customer)$", self._post)
        self.route("GET", "/v3/company/(?P<realm>[0-9]+)/(?P<kind>invoice|customer|companyinfo)/(?P<id>[0-9]+)$",
                   self._get)

    # ------------------------------------------------------------ OAuth
    def _token(self, req: RecordedRequest, m: Any) -> FakeResponse:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if req.headers.get("authorization") != f"Basic {expected}":
            return FakeResponse(401, {"error": "invalid_client"})
        form = req.form()
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
            return FakeResponse(400, {"error": "invalid_grant"})
        n = next(self._n)
        self.refresh_token = f"AB11-refresh-{n}"  # rotated: the one just used is spent
        access = f"eyJqb-access-{n}"
        self.bearer.add(access)
        return FakeResponse(200, {"token_type": "bearer", "access_token": access, "expires_in": 3600,
                                  "refresh_token": self.refresh_token, "x_refresh_token_hard_expires_in": 8726400})

    def revoke_bearer(self) -> None:
        self.bearer.clear()

    # ------------------------------------------------------------ REST
    def _refused(self, req: RecordedRequest, realm: str) -> FakeResponse | None:
        if req.headers.get("authorization", "").removeprefix("Bearer ") not in self.bearer:
            return FakeResponse(401, fault("3200", "message=AuthenticationFailed; errorCode=003200; "
                                                   "statusCode=401", "AUTHENTICATION"))
        if realm != self.realm:
            return FakeResponse(403, fault("3100", "ApplicationAuthorizationFailed", "AUTHORIZATION"))
        return None

    def _get(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req, m["realm"])
        if refused:
            return refused
        kind, oid = m["kind"], m["id"]
        if kind == "companyinfo":
            return FakeResponse(200, {"CompanyInfo": {"Id": self.realm, "CompanyName": "Bright Smile Dental"},
                                      "time": _stamp()})
        row = (self.invoices if kind == "invoice" else self.customers).get(oid)
        if row is None or row.get("status") == "Deleted":
            return FakeResponse(400, fault("610", "Object Not Found"))
        return FakeResponse(200, {"Invoice" if kind == "invoice" else "Customer": row, "time": _stamp()})

    def _query(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req, m["realm"])
        if refused:
            return refused
        found = re.fullmatch(r"select Id, Name from Item where Name = '((?:[^'\\]|\\.)*)'", req.query.get("query", ""))
        if found is None:
            return FakeResponse(400, fault("4000", "Error parsing query", "QueryValidationError"))
        name = re.sub(r"\\(.)", r"\1", found.group(1))
        rows = [{"Id": self.items[name], "Name": name}] if name in self.items else []
        return FakeResponse(200, {"QueryResponse": {"Item": rows, "startPosition": 1, "maxResults": len(rows)}
                                  if rows else {}, "time": _stamp()})

    def _post(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req, m["realm"])
        if refused:
            return refused
        request_id = req.query.get("requestid")
        if request_id and request_id in self.answered:
            return self.answered[request_id]
        body = req.json() or {}
        response = self._write_entity(m["kind"], req.query.get("operation"), body)
        if request_id:
            self.answered[request_id] = response
        return response

    def _write_entity(self, kind: str, operation: str | None, body: dict[str, Any]) -> FakeResponse:
        if kind == "customer":
            if not body.get("DisplayName"):
                return FakeResponse(400, fault("2020", "Required param missing, need to supply the required value"))
            cid = self.add_customer(body["DisplayName"], body.get("PrimaryEmailAddr", {}).get("Address"),
                                    body.get("Mobile", {}).get("FreeFormNumber"))
            return FakeResponse(200, {"Customer": self.customers[cid], "time": _stamp()})
        if operation == "void":
            row = self.invoices.get(str(body.get("Id")))
            if row is None or row.get("status") == "Deleted":
                return FakeResponse(400, fault("610", "Object Not Found"))
            if str(body.get("SyncToken")) != row["SyncToken"]:
                return FakeResponse(400, fault("5010", "Stale Object Error"))
            self.void(row["Id"])
            return FakeResponse(200, {"Invoice": row, "time": _stamp()})
        customer = str((body.get("CustomerRef") or {}).get("value") or "")
        lines = [ln for ln in body.get("Line") or [] if ln.get("DetailType") == "SalesItemLineDetail"]
        names = {v: k for k, v in self.items.items()}
        refs = [str(ln.get("SalesItemLineDetail", {}).get("ItemRef", {}).get("value")) for ln in lines]
        if customer not in self.customers or not refs or any(r not in names for r in refs):
            return FakeResponse(400, fault("2500", "Invalid Reference Id"))
        day = str(lines[0].get("SalesItemLineDetail", {}).get("ServiceDate") or body.get("TxnDate") or
                  datetime.now(UTC).date().isoformat())
        iid = self.add_invoice(customer, [names[r] for r in refs], day, float(lines[0].get("Amount") or 0))
        return FakeResponse(200, {"Invoice": self.invoices[iid], "time": _stamp()})

    def _cdc(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req, m["realm"])
        if refused:
            return refused
        since = opt_dt(req.query.get("changedSince"))
        if since is None:
            return FakeResponse(400, fault("2010", "Request has invalid or unsupported property"))
        entities = [e.strip() for e in req.query.get("entities", "").split(",") if e.strip()]
        query: dict[str, Any] = {"startPosition": 1}
        if "Invoice" in entities:
            rows = [r for r in self.invoices.values()
                    if (opt_dt(r["MetaData"]["LastUpdatedTime"]) or since) >= since]
            query["Invoice"] = rows
            query["maxResults"] = len(rows)
        return FakeResponse(200, {"CDCResponse": [{"QueryResponse": [query]}], "time": _stamp()})
