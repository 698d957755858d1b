"""A fake ActiveCampaign account: the API v3 resources the connector uses, authenticated with `Api-Token`.

- Auth (https://developers.activecampaign.com/reference/authentication): a missing or unknown `Api-Token` is 403
  `{"message": "No Result found for User with id 0"}` (UNVERIFIED wording; the status is what the client reads).
- `GET /api/3/users/me` `{"user": {"id", "username", "email", ...}}`.
- `GET /api/3/contacts?email=` `{"contacts": [...], "meta": {"total"}}`
  (https://developers.activecampaign.com/reference/list-all-contacts).
- `GET /api/3/contacts/{id}/fieldValues` `{"fieldValues": [{"contact", "field", "value", "id"}]}`;
  `POST /api/3/fieldValues` `{"fieldValue": {"contact", "field", "value"}}` creates or replaces the value
  (https://developers.activecampaign.com/reference/create-fieldvalue); an unknown contact or field is 422
  `{"errors": [{"title", "detail", "code": "related_missing", "source": {"pointer"}}]}`.
- `POST /api/3/notes` `{"note": {"note", "relid", "reltype"}}` -> 201 `{"note": {"id", ...}}`;
  `GET /api/3/contacts/{id}/notes` (https://developers.activecampaign.com/reference/create-a-note).
- `POST /api/3/dealTasks` (`relid`, `duedate`, `dealTasktype` required: 422 `field_missing`) -> 201
  `{"dealTask": {"id", ...}}`; `GET /api/3/dealTasks` with `filters[relid]`
  (https://developers.activecampaign.com/reference/create-task).
- `GET /api/3/contacts/{id}` `{"contact": {...}}` (https://developers.activecampaign.com/reference/get-contact).
- `GET /api/3/dealStages` `{"dealStages": [{"id", "title", "group"}], "meta": {"total"}}`
  (https://developers.activecampaign.com/reference/list-all-deal-stages).
- `GET /api/3/deals` (https://developers.activecampaign.com/reference/list-all-deals): `filters[stage]`,
  `filters[updated_after]` (`mdate` at or after it), `orders[cdate]` ASC / DESC, `limit` (default 20, at most
  100) and `offset`; `{"deals": [{"id", "contact", "stage", "owner", "title", "status", "cdate", "mdate"}],
  "meta": {"total"}}` with the total before paging. `move_deal` is a change in the account (the deal's `mdate`
  moves); whether a webhook announced it is up to the test.
- An unknown contact is 404 `{"message": "No Result found for Subscriber with id 1"}`.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime
from typing import Any

from connectors.inbound import opt_dt
from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest


def ac_errors(code: str, title: str, pointer: str = "") -> dict[str, Any]:
    return {"errors": [{"title": title, "detail": "", "code": code, "source": {"pointer": pointer}}]}


class FakeActiveCampaign(FakeServer):
    def __init__(self, api_token: str = "ac-api-token") -> None:
        self.api_token = api_token
        self.contacts: dict[str, dict[str, Any]] = {}
        self.fields: set[str] = set()
        self.values: dict[tuple[str, str], str] = {}
        self.notes: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.stages: dict[str, dict[str, Any]] = {}
        self.deals: dict[str, dict[str, Any]] = {}
        self._n = itertools.count(100)
        # deal ids differ between fakes: the case a deal starts outlives the fake on a shared Temporal server
        self._deals = itertools.count(random.randrange(10**6, 10**8, 1000))
        super().__init__()

    def add_stage(self, title: str, group: str = "1") -> str:
        sid = str(next(self._n))
        self.stages[sid] = {"id": sid, "title": title, "group": group}
        return sid

    def add_deal(self, contact: str, stage: str, at: datetime, title: str = "Consultation", owner: str = "1") -> str:
        did = str(next(self._deals))
        stamp = at.astimezone(UTC).isoformat()
        self.deals[did] = {"id": did, "contact": contact, "stage": stage, "owner": owner, "title": title,
                           "status": "0", "cdate": stamp, "mdate": stamp}
        return did

    def move_deal(self, deal_id: str, stage: str, at: datetime) -> None:
        self.deals[deal_id].update(stage=stage, mdate=at.astimezone(UTC).isoformat())

    def add_contact(self, email: str, first: str = "", last: str = "", phone: str = "") -> str:
        cid = str(next(self._n))
        self.contacts[cid] = {"id": cid, "email": email, "firstName": first, "lastName": last, "phone": phone}
        return cid

    def setup_routes(self) -> None:
        self.route("GET", "/api/3/users/me", self._me)
        self.route("GET", "/api/3/contacts", self._contacts)
        self.route("GET", "/api/3/contacts/(?P<id>[0-9]+)", self._contact)
        self.route("GET", "/api/3/dealStages", self._list_stages)
        self.route("GET", "/api/3/deals", self._list_deals)
        self.route("GET", "/api/3/contacts/(?P<id>[0-9]+)/fieldValues", self._field_values)
        self.route("GET", "/api/3/contacts/(?P<id>[0-9]+)/notes", self._contact_notes)
        self.route("POST", "/api/3/fieldValues", self._set_value)
        self.route("POST", "/api/3/notes", self._create_note)
        self.route("POST", "/api/3/dealTasks", self._create_task)
        self.route("GET", "/api/3/dealTasks", self._list_tasks)

    def _refused(self, req: RecordedRequest) -> FakeResponse | None:
        if req.headers.get("api-token") != self.api_token:
            return FakeResponse(403, {"message": "No Result found for User with id 0"})
        return None

    def _me(self, req: RecordedRequest, m: Any) -> FakeResponse:
        return self._refused(req) or FakeResponse(200, {"user": {"id": "1", "username": "admin",
                                                                 "email": "admin@acme.example"}})

    def _contacts(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        rows = [c for c in self.contacts.values() if c["email"] == req.query.get("email", c["email"])]
        return FakeResponse(200, {"contacts": rows, "meta": {"total": str(len(rows))}})

    def _missing(self, cid: str) -> FakeResponse | None:
        if cid not in self.contacts:
            return FakeResponse(404, {"message": f"No Result found for Subscriber with id {cid}"})
        return None

    def _field_values(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req) or self._missing(m["id"])
        if refused:
            return refused
        rows = [{"contact": c, "field": f, "value": v, "id": f"{c}{f}"} for (c, f), v in self.values.items()
                if c == m["id"]]
        return FakeResponse(200, {"fieldValues": rows})

    def _set_value(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        item = (req.json() or {}).get("fieldValue") or {}
        cid, field = str(item.get("contact") or ""), str(item.get("field") or "")
        if cid not in self.contacts:
            return FakeResponse(422, ac_errors("related_missing", "The related contact does not exist.",
                                               "/data/attributes/contact"))
        if field not in self.fields:
            return FakeResponse(422, ac_errors("related_missing", "The related field does not exist.",
                                               "/data/attributes/field"))
        self.values[(cid, field)] = str(item.get("value") or "")
        return FakeResponse(201, {"fieldValue": {"contact": cid, "field": field, "value": self.values[(cid, field)],
                                                 "id": f"{cid}{field}"}})

    def _create_note(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        item = (req.json() or {}).get("note") or {}
        if not item.get("note"):
            return FakeResponse(422, ac_errors("field_missing", "Note text is required", "/data/attributes/note"))
        nid = str(next(self._n))
        self.notes[nid] = {**item, "id": nid}
        return FakeResponse(201, {"note": self.notes[nid]})

    def _contact_notes(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req) or self._missing(m["id"])
        if refused:
            return refused
        rows = [n for n in self.notes.values() if str(n.get("relid")) == m["id"] and n.get("reltype") == "Subscriber"]
        return FakeResponse(200, {"notes": rows})

    def _create_task(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        item = (req.json() or {}).get("dealTask") or {}
        for required in ("relid", "duedate", "dealTasktype"):
            if not item.get(required):
                return FakeResponse(422, ac_errors("field_missing", f"The {required} field is required",
                                                   f"/data/attributes/{required}"))
        tid = str(next(self._n))
        self.tasks[tid] = {**item, "id": tid, "outcomeId": None, "outcomeInfo": None}
        return FakeResponse(201, {"dealTask": self.tasks[tid]})

    def _list_tasks(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        rows = [t for t in self.tasks.values() if str(t.get("relid")) == req.query.get("filters[relid]", t["relid"])]
        return FakeResponse(200, {"dealTasks": rows, "meta": {"total": str(len(rows))}})

    def _contact(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req) or self._missing(m["id"])
        return refused or FakeResponse(200, {"contact": self.contacts[m["id"]]})

    def _page(self, req: RecordedRequest, key: str, rows: list[dict[str, Any]]) -> FakeResponse:
        try:
            limit = min(int(req.query.get("limit", "20")), 100)
            offset = int(req.query.get("offset", "0"))
        except ValueError:
            return FakeResponse(422, ac_errors("invalid", "limit and offset must be numbers"))
        return FakeResponse(200, {key: rows[offset:offset + limit], "meta": {"total": str(len(rows))}})

    def _list_stages(self, req: RecordedRequest, m: Any) -> FakeResponse:
        return self._refused(req) or self._page(req, "dealStages", list(self.stages.values()))

    def _list_deals(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        rows = list(self.deals.values())
        stage = req.query.get("filters[stage]")
        if stage is not None:
            rows = [d for d in rows if d["stage"] == stage]
        if "filters[updated_after]" in req.query:
            after = opt_dt(req.query["filters[updated_after]"])
            if after is None:
                return FakeResponse(422, ac_errors("invalid", "filters[updated_after] is not a date"))
            rows = [d for d in rows if (opt_dt(d["mdate"]) or after) >= after]
        order = req.query.get("orders[cdate]")
        if order is not None:
            rows.sort(key=lambda d: (d["cdate"], int(d["id"])), reverse=order.upper() == "DESC")
        return self._page(req, "deals", rows)
