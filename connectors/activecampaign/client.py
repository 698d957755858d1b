"""ActiveCampaign API v3 client: contacts, contact field values, notes, deal tasks and the current user.

References (ActiveCampaign's public documentation):
- Base URL: the account's API URL (Settings > Developer, `https://<account>.api-us1.com`) + `/api/3/...`; header
  `Api-Token: <key>` https://developers.activecampaign.com/reference/authentication.
- Rate limit: 5 requests per second per account, 429 with `Retry-After`
  https://developers.activecampaign.com/reference/rate-limits.
- Contacts: `GET /api/3/contacts?email=`, `GET /api/3/contacts/{id}/fieldValues`
  https://developers.activecampaign.com/reference/list-all-contacts; field values: `POST /api/3/fieldValues`
  `{"fieldValue": {"contact", "field", "value"}}` https://developers.activecampaign.com/reference/create-fieldvalue.
- Notes: `POST /api/3/notes` `{"note": {"note", "relid", "reltype": "Subscriber"}}`, `GET
  /api/3/contacts/{id}/notes` https://developers.activecampaign.com/reference/create-a-note.
- Deal tasks: `POST /api/3/dealTasks` `{"dealTask": {"title", "ownerType": "contact", "relid", "status": 0,
  "duedate", "dealTasktype", "assignee"}}` https://developers.activecampaign.com/reference/create-task,
  `GET /api/3/dealTasks` (UNVERIFIED: the `filters[relid]` filter used to find a task after an unanswered create).
- Current user: `GET /api/3/users/me` https://developers.activecampaign.com/reference/retrieve-logged-in-user.
- Deals: `GET /api/3/deals` with `filters[stage]`, `filters[updated_after]` (updated at or after the given time)
  and `orders[cdate]`, paged with `limit` / `offset`, `meta.total` the count
  https://developers.activecampaign.com/reference/list-all-deals (UNVERIFIED: the page size maximum, read as
  100, and the accepted time format, sent as ISO 8601 with its offset). Stages: `GET /api/3/dealStages`
  https://developers.activecampaign.com/reference/list-all-deal-stages. One contact: `GET /api/3/contacts/{id}`
  `{"contact": {"email", "firstName", "lastName", "phone"}}`
  https://developers.activecampaign.com/reference/get-contact.
- Refusals: 422 `{"errors": [{"title", "detail", "code", "source"}]}`, 404 `{"message"}`; only the status and the
  `code` reach an exception.
ActiveCampaign has no idempotency key: connectors/local/remote_creates.py keeps one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import httpx

from connectors.contract import PermanentProviderError
from connectors.http import JsonApi, segment

PAGE_SIZE = 100
MAX_PAGES = 200  # a bound on one poll; a list longer than 20,000 rows is read on the next run


class ActiveCampaignClient(JsonApi):
    provider = "activecampaign"
    rate_limit = (5.0, 1.0)

    def __init__(self, api_token: str, api_url: str, timeout: float = 10.0, http: httpx.Client | None = None) -> None:
        if not api_token:
            raise ValueError("ActiveCampaign needs an API token")
        super().__init__(f"{api_url.rstrip('/')}/api/3", {"Api-Token": api_token, "Accept": "application/json"},
                         timeout, http)

    def me(self) -> dict[str, Any]:
        body = self.call("GET", "/users/me")
        user = body.get("user") if isinstance(body, dict) else None
        return user if isinstance(user, dict) else {}

    def contact_by_email(self, email: str) -> str | None:
        body = self.call("GET", "/contacts", params={"email": email})
        found = body.get("contacts") if isinstance(body, dict) else None
        first = found[0] if isinstance(found, list) and found and isinstance(found[0], dict) else {}
        return str(first["id"]) if first.get("id") else None

    def field_values(self, contact_id: str) -> dict[str, str | None]:
        """The contact's custom field values by field id."""
        body = self.call("GET", f"/contacts/{segment(contact_id)}/fieldValues")
        rows = body.get("fieldValues") if isinstance(body, dict) else None
        return {str(r.get("field")): (None if r.get("value") in (None, "") else str(r["value"]))
                for r in rows or [] if isinstance(r, dict)}

    def set_field(self, contact_id: str, field_id: str, value: str | None) -> None:
        self.call("POST", "/fieldValues", json_body={"fieldValue": {"contact": contact_id, "field": field_id,
                                                                     "value": value or ""}})

    def notes(self, contact_id: str) -> list[dict[str, Any]]:
        body = self.call("GET", f"/contacts/{segment(contact_id)}/notes")
        rows = body.get("notes") if isinstance(body, dict) else None
        return [r for r in rows or [] if isinstance(r, dict)]

    def deal_tasks(self, contact_id: str) -> list[dict[str, Any]]:
        body = self.call("GET", "/dealTasks", params={"filters[relid]": contact_id, "filters[reltype]": "Subscriber"})
        rows = body.get("dealTasks") if isinstance(body, dict) else None
        return [r for r in rows or [] if isinstance(r, dict)]

    def create(self, path: str, wrapper: str, fields: Mapping[str, Any]) -> str:
        body = self.call("POST", path, json_body={wrapper: dict(fields)}, ambiguous_after_send=True)
        made = body.get(wrapper) if isinstance(body, dict) else None
        if not isinstance(made, dict) or not made.get("id"):
            raise PermanentProviderError("activecampaign: the create answered no id", code="no_id")
        return str(made["id"])

    def _pages(self, path: str, key: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every row of a `limit` / `offset` list, page after page until one comes back short."""
        for page in range(MAX_PAGES):
            body = self.call("GET", path, params={**params, "limit": PAGE_SIZE, "offset": page * PAGE_SIZE})
            rows = [r for r in (body.get(key) if isinstance(body, dict) else None) or [] if isinstance(r, dict)]
            yield from rows
            if len(rows) < PAGE_SIZE:
                return

    def deal_stages(self) -> list[dict[str, Any]]:
        return list(self._pages("/dealStages", "dealStages", {}))

    def deals(self, stage_id: str, updated_after: datetime) -> Iterator[dict[str, Any]]:
        """The deals in one stage changed at or after `updated_after`, oldest created first: a deal created
        while the pages are read lands after them, so no offset skips a row."""
        params = {"filters[stage]": stage_id, "filters[updated_after]": updated_after.isoformat(timespec="seconds"),
                  "orders[cdate]": "ASC"}
        return self._pages("/deals", "deals", params)

    def contact(self, contact_id: str) -> dict[str, Any]:
        body = self.call("GET", f"/contacts/{segment(contact_id)}")
        found = body.get("contact") if isinstance(body, dict) else None
        return found if isinstance(found, dict) else {}
