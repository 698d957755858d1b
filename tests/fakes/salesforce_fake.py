"""A fake Salesforce org: the OAuth JWT bearer token endpoint and the REST resources the connector uses.

Token endpoint (https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm): form
`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`; the assertion's RS256 signature is
checked with the connected app's certificate key, `iss` (consumer key), `sub` (username), `aud` (login URL) and an
`exp` no more than three minutes ahead; the answer names `instance_url` (this server) and no refresh token.
Refusals are 400 `{"error": "invalid_grant" | "invalid_client_id", "error_description"}`.
REST: `GET /services/data/vXX.X/` (resources), `query/` and `queryAll/` with `nextRecordsUrl` paging, sObject
create (201 `{"id", "success", "errors"}`), GET and PATCH (204). Errors are arrays `[{"message", "errorCode"}]`,
401 `INVALID_SESSION_ID` for an unknown or revoked token. The SOQL understood is the connector's own: one object,
`LastModifiedDate >`, `Email =`, `LIKE '%x%'`, `WhoId != null`.
A create sets `CreatedDate` and `LastModifiedDate` (server fields) and a Contact or Lead its compound `Name`.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from connectors.inbound import opt_dt
from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
PREFIX = {"Account": "001", "ServiceAppointment": "08p", "Event": "00U", "Task": "00T", "Note": "002", "Contact": "003",
          "Lead": "00Q"}


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def sf_error(code: str, message: str) -> list[dict[str, Any]]:
    return [{"message": message, "errorCode": code}]


class FakeSalesforce(FakeServer):
    def __init__(self, public_key: RSAPublicKey, consumer_key: str, username: str,
                 audience: str = "https://login.salesforce.com", version: str = "62.0", page_size: int = 2) -> None:
        self.key, self.consumer_key, self.username, self.audience = public_key, consumer_key, username, audience
        self.version, self.page_size = version, page_size
        self.records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in PREFIX}
        self.tokens: set[str] = set()
        self.honour_sessions = True  # False: every session is refused (a user deactivated after the grant)
        self._n = itertools.count(1)
        self._pages: dict[str, list[dict[str, Any]]] = {}
        super().__init__()

    # ------------------------------------------------------------ helpers for tests
    def add(self, sobject: str, fields: dict[str, Any]) -> str:
        record_id = fields.get("Id") or f"{PREFIX[sobject]}XX{next(self._n):013d}"[:18]
        self.records[sobject][record_id] = {"IsDeleted": False, **fields, "Id": record_id}
        return record_id

    def revoke_all(self) -> None:
        self.tokens.clear()

    def setup_routes(self) -> None:
        v = r"/services/data/v(?P<v>[0-9.]+)"
        self.route("POST", "/services/oauth2/token", self._token)
        self.route("GET", v + "/", self._resources)
        self.route("GET", v + "/limits/", self._limits)
        self.route("GET", v + "/(?P<kind>query|queryAll)/", self._query)
        self.route("GET", v + "/query/(?P<page>[^/]+)", self._next)
        self.route("POST", v + "/sobjects/(?P<type>[A-Za-z_]+)/", self._create)
        self.route("GET", v + "/sobjects/(?P<type>[A-Za-z_]+)/(?P<id>[^/]+)", self._get)
        self.route("PATCH", v + "/sobjects/(?P<type>[A-Za-z_]+)/(?P<id>[^/]+)", self._patch)

    # ------------------------------------------------------------ token endpoint
    def _token(self, req: RecordedRequest, m: Any) -> FakeResponse:
        form = req.form()
        if form.get("grant_type") != JWT_GRANT:
            return FakeResponse(400, {"error": "unsupported_grant_type",
                                      "error_description": "grant type not supported"})
        parts = form.get("assertion", "").split(".")
        if len(parts) != 3:
            return FakeResponse(400, {"error": "invalid_grant", "error_description": "invalid assertion"})
        try:
            self.key.verify(_unb64(parts[2]), f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
            head, claims = json.loads(_unb64(parts[0])), json.loads(_unb64(parts[1]))
        except (InvalidSignature, ValueError):
            return FakeResponse(400, {"error": "invalid_grant", "error_description": "invalid assertion"})
        if head.get("alg") != "RS256" or claims.get("iss") != self.consumer_key:
            return FakeResponse(400, {"error": "invalid_client_id", "error_description": "client identifier invalid"})
        if claims.get("sub") != self.username or claims.get("aud") != self.audience:
            return FakeResponse(400, {"error": "invalid_grant", "error_description": "user hasn't approved this "
                                                                                     "consumer"})
        exp = float(claims.get("exp") or 0)
        if not time.time() < exp <= time.time() + 180 + 5:
            return FakeResponse(400, {"error": "invalid_grant", "error_description": "expired authorization code"})
        access = f"00DXX0000008aBc!{next(self._n)}"
        self.tokens.add(access)
        return FakeResponse(200, {"access_token": access, "scope": "api", "instance_url": self.base_url,
                                  "id": f"https://login.salesforce.com/id/00DXX0000008aBcUAI/005XX{next(self._n)}",
                                  "token_type": "Bearer", "issued_at": str(int(time.time() * 1000))})

    def _authorized(self, req: RecordedRequest) -> FakeResponse | None:
        given = req.headers.get("authorization", "").removeprefix("Bearer ")
        if given not in self.tokens or not self.honour_sessions:
            return FakeResponse(401, sf_error("INVALID_SESSION_ID", "Session expired or invalid"))
        return None

    # ------------------------------------------------------------ REST
    def _resources(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._authorized(req)
        if refused:
            return refused
        base = f"/services/data/v{m['v']}"
        return FakeResponse(200, {"sobjects": f"{base}/sobjects", "query": f"{base}/query",
                                  "limits": f"{base}/limits"})

    def _limits(self, req: RecordedRequest, m: Any) -> FakeResponse:
        """https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_limits.htm"""
        refused = self._authorized(req)
        if refused:
            return refused
        return FakeResponse(200, {"DailyApiRequests": {"Max": 15000, "Remaining": 14998},
                                  "DataStorageMB": {"Max": 5, "Remaining": 5}})

    def _select(self, soql: str, include_deleted: bool) -> list[dict[str, Any]] | None:
        found = re.match(r"SELECT (?P<fields>.+?) FROM (?P<obj>\w+)(?: WHERE (?P<where>.+?))?"
                         r"(?: ORDER BY (?P<order>\w+) ASC)?(?: LIMIT (?P<limit>\d+))?$", soql)
        if not found or found["obj"] not in self.records:
            return None
        fields = [f.strip() for f in found["fields"].split(",")]
        rows = [r for r in self.records[found["obj"]].values() if include_deleted or not r.get("IsDeleted")]
        for clause in (found["where"] or "").split(" AND ") if found["where"] else []:
            if (c := re.match(r"(\w+) > (\S+)$", clause)) is not None:
                rows = [r for r in rows if (opt_dt(r.get(c[1])) or opt_dt(0)) > opt_dt(c[2])]  # type: ignore[operator]
            elif (c := re.match(r"(\w+) = '(.*)'$", clause)) is not None:
                rows = [r for r in rows if r.get(c[1]) == c[2].replace("\\'", "'")]
            elif (c := re.match(r"(\w+) LIKE '%(.*)%'$", clause)) is not None:
                needle = re.sub(r"\\(.)", r"\1", c[2])
                rows = [r for r in rows if needle in str(r.get(c[1]) or "")]
            elif (c := re.match(r"(\w+) != null$", clause)) is not None:
                rows = [r for r in rows if r.get(c[1])]
            else:
                return None
        if found["order"]:
            rows.sort(key=lambda r: str(r.get(found["order"]) or ""))
        if found["limit"]:
            rows = rows[: int(found["limit"])]
        return [self._shape(found["obj"], r, fields) for r in rows]

    def _shape(self, sobject: str, row: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": {"type": sobject, "url": f"/services/data/v{self.version}/sobjects/"
                                                                        f"{sobject}/{row['Id']}"}}
        for field in fields:
            if "." in field:
                relation, name = field.split(".", 1)
                linked_id = row.get(f"{relation}Id") or row.get("WhoId" if relation == "Who" else "")
                linked = next((self.records[t][linked_id] for t in ("Contact", "Lead")
                               if linked_id in self.records[t]), None)
                if linked is None:
                    out[relation] = None
                    continue
                out.setdefault(relation, {"attributes": {"type": "Contact"}})[name] = linked.get(name)
            else:
                out[field] = row.get(field)
        return out

    def _page(self, rows: list[dict[str, Any]]) -> FakeResponse:
        head, rest = rows[: self.page_size], rows[self.page_size:]
        body: dict[str, Any] = {"totalSize": len(rows), "done": not rest, "records": head}
        if rest:
            key = f"01gXX{next(self._n):010d}-{self.page_size}"
            self._pages[key] = rest
            body["nextRecordsUrl"] = f"/services/data/v{self.version}/query/{key}"
        return FakeResponse(200, body)

    def _query(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._authorized(req)
        if refused:
            return refused
        rows = self._select(req.query.get("q", ""), m["kind"] == "queryAll")
        if rows is None:
            return FakeResponse(400, sf_error("MALFORMED_QUERY", "unexpected token"))
        return self._page(rows)

    def _next(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._authorized(req)
        if refused:
            return refused
        rest = self._pages.pop(m["page"], None)
        if rest is None:
            return FakeResponse(400, sf_error("INVALID_QUERY_LOCATOR", "invalid query locator"))
        return self._page(rest)

    def _create(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._authorized(req)
        if refused:
            return refused
        if m["type"] not in self.records:
            return FakeResponse(404, sf_error("NOT_FOUND", "The requested resource does not exist"))
        fields = dict(req.json() or {})
        if m["type"] in ("Contact", "Lead") and "Name" not in fields:  # a compound field Salesforce derives
            fields["Name"] = " ".join(str(fields[k]) for k in ("FirstName", "LastName") if fields.get(k))
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())
        record_id = self.add(m["type"], {"CreatedDate": stamp, "LastModifiedDate": stamp, **fields})
        return FakeResponse(201, {"id": record_id, "success": True, "errors": []})

    def _get(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._authorized(req)
        if refused:
            return refused
        row = self.records.get(m["type"], {}).get(m["id"])
        if row is None:
            return FakeResponse(404, sf_error("NOT_FOUND", "The requested resource does not exist"))
        fields = [f for f in req.query.get("fields", "").split(",") if f]
        return FakeResponse(200, self._shape(m["type"], row, fields or list(row)))

    def _patch(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._authorized(req)
        if refused:
            return refused
        row = self.records.get(m["type"], {}).get(m["id"])
        if row is None:
            return FakeResponse(404, sf_error("NOT_FOUND", "The requested resource does not exist"))
        row.update(req.json() or {})
        row["LastModifiedDate"] = time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())
        return FakeResponse(204)
