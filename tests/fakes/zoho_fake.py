"""A fake Zoho CRM data centre: the accounts server's token endpoint and the v7 REST resources the connector uses.

Token endpoint (https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html): `POST
/oauth/v2/token` with `grant_type=refresh_token`, `client_id`, `client_secret`, `refresh_token` (as form fields
or query parameters); the answer is `{"access_token", "expires_in": 3600, "api_domain", "token_type": "Bearer"}`,
and an unknown refresh token or client is an `{"error": "invalid_code" | "invalid_client"}` body. The HTTP status
of that refusal is not stated on the page (UNVERIFIED): the fake answers 400, or 200 with `refusal_status`.
Every REST call needs `Authorization: Zoho-oauthtoken <token>`; an unknown or expired token is 401
`{"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"}`
(https://www.zoho.com/crm/developer/docs/api/v7/oauth-overview.html).
- `GET /crm/v7/{module}` (https://www.zoho.com/crm/developer/docs/api/v7/get-records.html): `fields` is
  required (400 `REQUIRED_PARAM_MISSING`); `page`, `per_page`, `sort_by=Modified_Time`, `sort_order`;
  `If-Modified-Since` keeps the records modified after it, 304 when none are, 204 for an empty module; the body
  is `{"data": [...], "info": {"per_page", "count", "page", "more_records"}}`.
- `GET /crm/v7/{module}/deleted` (https://www.zoho.com/crm/developer/docs/api/v7/get-deleted-records.html):
  `{"data": [{"id", "type": "recycle", "deleted_time", "display_name", ...}], "info"}`, `If-Modified-Since` too.
- `GET /crm/v7/{module}/{id}`: `{"data": [record]}`; an unknown id is 400 `INVALID_DATA` (UNVERIFIED: Zoho may
  answer 204).
- `GET /crm/v7/{module}/search` with `word`, `email` or `phone`
  (https://www.zoho.com/crm/developer/docs/api/v7/search-records.html): matches, or 204.
- `POST /crm/v7/{module}` and `PUT /crm/v7/{module}/{id}` with `{"data": [...]}`
  (https://www.zoho.com/crm/developer/docs/api/v7/insert-records.html,
  https://www.zoho.com/crm/developer/docs/api/v7/update-records.html): 201 / 200 `{"data": [{"code": "SUCCESS",
  "details": {"id", ...}, "message", "status": "success"}]}`; a record missing a mandatory field is 400 with
  `{"data": [{"code": "MANDATORY_NOT_FOUND", "details": {"api_name"}, "status": "error"}]}`.
- `GET/POST/PUT /crm/v7/actions/watch` (https://www.zoho.com/crm/developer/docs/api/v7/notifications/enable.html):
  a token over 50 characters is `INVALID_DATA`.
- `GET /crm/v7/org` (https://www.zoho.com/crm/developer/docs/api/v7/get-org-data.html): `{"org": [{"id",
  "company_name", ...}]}`.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from connectors.inbound import opt_dt
from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest

MANDATORY = {"Events": ("Event_Title", "Start_DateTime", "End_DateTime"), "Tasks": ("Subject",),
             "Notes": ("Note_Content", "Parent_Id"), "Contacts": ("Last_Name",), "Leads": ("Last_Name",)}


def zoho_error(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "details": details or {}, "message": message, "status": "error"}


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class FakeZoho(FakeServer):
    """One server plays the accounts server and the API domain (its `api_domain` is its own base URL)."""

    def __init__(self, client_id: str = "1000.CLIENT", client_secret: str = "client-secret",
                 refresh_token: str = "1000.refresh", page_size: int = 200) -> None:
        self.client_id, self.client_secret, self.refresh_token = client_id, client_secret, refresh_token
        self.page_size = page_size
        self.records: dict[str, dict[str, dict[str, Any]]] = {m: {} for m in (*MANDATORY, "Deals")}
        self.deleted_rows: dict[str, list[dict[str, Any]]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.tokens: set[str] = set()
        self.refusal_status = 400  # the status of a refused grant (its body names the error either way)
        self.honour_tokens = True  # False: every token is refused (the client's access revoked after the grant)
        self._n = itertools.count(5725767000000100001)
        super().__init__()

    # ------------------------------------------------------------ helpers for tests
    def add(self, module: str, fields: dict[str, Any]) -> str:
        record_id = str(fields.get("id") or next(self._n))
        self.records.setdefault(module, {})[record_id] = {"Modified_Time": _stamp(), **fields, "id": record_id}
        return record_id

    def delete(self, module: str, record_id: str, at: str) -> None:
        self.records[module].pop(record_id, None)
        self.deleted_rows.setdefault(module, []).append({
            "deleted_by": {"name": "Patricia Boyle", "id": "554023000000235011"}, "id": record_id,
            "display_name": "Consultation", "type": "recycle",
            "created_by": {"name": "Patricia Boyle", "id": "554023000000235011"}, "deleted_time": at})

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def setup_routes(self) -> None:
        v = r"/crm/v(?P<v>\d+)"
        self.route("POST", "/oauth/v2/token", self._token)
        self.route("GET", v + "/org", self._org)
        self.route("GET", v + "/actions/watch", self._watching)
        self.route("POST", v + "/actions/watch", self._watch)
        self.route("PUT", v + "/actions/watch", self._watch)
        self.route("GET", v + "/(?P<module>[A-Za-z_]+)/deleted", self._deleted)
        self.route("GET", v + "/(?P<module>[A-Za-z_]+)/search", self._search)
        self.route("GET", v + "/(?P<module>[A-Za-z_]+)", self._list)
        self.route("POST", v + "/(?P<module>[A-Za-z_]+)", self._create)
        self.route("GET", v + "/(?P<module>[A-Za-z_]+)/(?P<id>[0-9]+)", self._get)
        self.route("PUT", v + "/(?P<module>[A-Za-z_]+)/(?P<id>[0-9]+)", self._update)

    # ------------------------------------------------------------ accounts server
    def _token(self, req: RecordedRequest, m: Any) -> FakeResponse:
        given = {**req.query, **req.form()}
        if given.get("grant_type") != "refresh_token":
            return FakeResponse(400, {"error": "unsupported_grant_type"})
        if given.get("client_id") != self.client_id or given.get("client_secret") != self.client_secret:
            return FakeResponse(self.refusal_status, {"error": "invalid_client"})
        if given.get("refresh_token") != self.refresh_token:
            return FakeResponse(self.refusal_status, {"error": "invalid_code"})
        access = f"1000.{next(self._n):x}.access"
        self.tokens.add(access)
        return FakeResponse(200, {"access_token": access, "api_domain": self.base_url, "token_type": "Bearer",
                                  "expires_in": 3600, "scope": "ZohoCRM.modules.ALL ZohoCRM.notifications.ALL"})

    def _refused(self, req: RecordedRequest) -> FakeResponse | None:
        given = req.headers.get("authorization", "")
        if not given.startswith("Zoho-oauthtoken ") or given.removeprefix("Zoho-oauthtoken ") not in self.tokens \
                or not self.honour_tokens:
            return FakeResponse(401, zoho_error("INVALID_TOKEN", "invalid oauth token"))
        return None

    # ------------------------------------------------------------ REST
    def _org(self, req: RecordedRequest, m: Any) -> FakeResponse:
        return self._refused(req) or FakeResponse(200, {"org": [{
            "id": "4150868000000225013", "company_name": "Zylker", "primary_zuid": "4150868",
            "zgid": "4150869", "time_zone": "America/Los_Angeles", "currency": "US Dollar - USD"}]})

    @staticmethod
    def _since(req: RecordedRequest) -> datetime | None:
        return opt_dt(req.headers.get("if-modified-since"))

    def _list(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        if not req.query.get("fields"):
            return FakeResponse(400, zoho_error("REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                                                {"param_name": "fields"}))
        if m["module"] not in self.records:
            return FakeResponse(400, zoho_error("INVALID_MODULE", "the module name given seems to be invalid"))
        rows = list(self.records[m["module"]].values())
        if not rows:
            return FakeResponse(204)
        since = self._since(req)
        if since is not None:
            rows = [r for r in rows if (opt_dt(r.get("Modified_Time")) or since) > since]
            if not rows:
                return FakeResponse(304)
        if req.query.get("sort_by") == "Modified_Time":
            rows.sort(key=lambda r: opt_dt(r.get("Modified_Time")) or datetime.min.replace(tzinfo=UTC),
                      reverse=req.query.get("sort_order") == "desc")
        per_page = min(int(req.query.get("per_page") or 200), self.page_size)
        page = int(req.query.get("page") or 1)
        chunk = rows[(page - 1) * per_page: page * per_page]
        fields = req.query["fields"].split(",")
        data = [{"id": r["id"], **{f: r.get(f) for f in fields}} for r in chunk]
        return FakeResponse(200, {"data": data, "info": {"per_page": per_page, "count": len(data), "page": page,
                                                         "more_records": page * per_page < len(rows)}})

    def _deleted(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        since = self._since(req)
        rows = [r for r in self.deleted_rows.get(m["module"], [])
                if since is None or (opt_dt(r["deleted_time"]) or since) > since]
        if not rows:
            return FakeResponse(204)
        return FakeResponse(200, {"data": rows, "info": {"per_page": 200, "count": len(rows), "page": 1,
                                                         "more_records": False}})

    def _search(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        rows = list(self.records.get(m["module"], {}).values())
        if "word" in req.query:
            rows = [r for r in rows if any(req.query["word"] in str(v) for v in r.values())]
        elif "email" in req.query:
            rows = [r for r in rows if str(r.get("Email") or "").lower() == req.query["email"].lower()]
        elif "phone" in req.query:
            rows = [r for r in rows if req.query["phone"] in (r.get("Phone"), r.get("Mobile"))]
        else:
            return FakeResponse(400, zoho_error("REQUIRED_PARAM_MISSING", "One of the expected parameter is missing"))
        if not rows:
            return FakeResponse(204)
        return FakeResponse(200, {"data": rows, "info": {"count": len(rows), "more_records": False}})

    def _get(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        row = self.records.get(m["module"], {}).get(m["id"])
        if row is None:
            return FakeResponse(400, zoho_error("INVALID_DATA", "the related id given seems to be invalid"))
        fields = [f for f in req.query.get("fields", "").split(",") if f]
        return FakeResponse(200, {"data": [{"id": row["id"], **({f: row.get(f) for f in fields} if fields
                                                                else row)}]})

    def _success(self, record_id: str, message: str) -> dict[str, Any]:
        now = _stamp()
        return {"code": "SUCCESS", "details": {"Modified_Time": now, "Created_Time": now, "id": record_id,
                                               "Modified_By": {"name": "Patricia Boyle", "id": "554023000000235011"}},
                "message": message, "status": "success"}

    def _create(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        items = (req.json() or {}).get("data")
        if not isinstance(items, list) or not items:
            return FakeResponse(400, zoho_error("INVALID_DATA", "invalid data"))
        answers, created = [], False
        for item in items:
            missing = [f for f in MANDATORY.get(m["module"], ()) if not item.get(f)]
            if missing:
                answers.append({"code": "MANDATORY_NOT_FOUND", "details": {"api_name": missing[0]},
                                "message": "required field not found", "status": "error"})
                continue
            answers.append(self._success(self.add(m["module"], dict(item)), "record added"))
            created = True
        return FakeResponse(201 if created else 400, {"data": answers})

    def _update(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        row = self.records.get(m["module"], {}).get(m["id"])
        items = (req.json() or {}).get("data")
        if row is None or not isinstance(items, list) or not items:
            return FakeResponse(400, {"data": [{"code": "INVALID_DATA", "details": {"api_name": "id"},
                                                "message": "the related id given seems to be invalid",
                                                "status": "error"}]})
        row.update({k: v for k, v in items[0].items() if k != "id"})
        row["Modified_Time"] = _stamp()
        return FakeResponse(200, {"data": [self._success(m["id"], "record updated")]})

    def _watching(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        if not self.channels:
            return FakeResponse(204)
        return FakeResponse(200, {"watch": list(self.channels.values())})

    def _watch(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        answers = []
        for channel in (req.json() or {}).get("watch") or []:
            if not channel.get("channel_id") or not channel.get("events") or not channel.get("notify_url"):
                answers.append({"code": "MANDATORY_NOT_FOUND", "details": {}, "message": "required field not found",
                                "status": "error"})
                continue
            if len(str(channel.get("token") or "")) > 50:
                answers.append({"code": "INVALID_DATA", "details": {"api_name": "token"},
                                "message": "invalid data", "status": "error"})
                continue
            key = str(channel["channel_id"])
            if req.method == "POST" and key in self.channels:
                answers.append({"code": "DUPLICATE_DATA", "details": {"api_name": "channel_id"},
                                "message": "duplicate data", "status": "error"})
                continue
            self.channels[key] = {**channel, "channel_id": key, "resource_name": "Events"}
            answers.append({"code": "SUCCESS", "details": {"events": [{
                "channel_expiry": channel.get("channel_expiry"), "resource_uri": f"{self.base_url}/crm/v7/Events",
                "resource_id": "554023000000000131", "resource_name": "Events", "channel_id": key}]},
                "message": "Successfully subscribed for actions-watch of the given module", "status": "success"})
        ok = any(a["status"] == "success" for a in answers)
        return FakeResponse(200 if ok else 400, {"watch": answers})
