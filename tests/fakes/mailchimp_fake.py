"""A fake Mailchimp Marketing API account (https://mailchimp.com/developer/marketing/api/), and the audience
webhook deliveries Mailchimp sends (https://mailchimp.com/developer/marketing/guides/sync-audience-data-with-webhooks/).

- Auth: HTTP Basic, any user name, the API key as password; anything else is 401 `{"type", "title": "API Key
  Invalid", "status": 401, "detail", "instance"}` (Mailchimp's problem-document errors).
- `GET /3.0/ping` -> `{"health_status": "Everything's Chimpy!"}`.
- `GET /3.0/lists/{list_id}/members/{subscriber_hash}` (hash = MD5 of the lowercased email) -> the member with
  its `status`; an unknown member 404 `"title": "Resource Not Found"`.
- `POST /3.0/lists/{list_id}/members/{subscriber_hash}/tags` `{"tags": [{"name", "status": "active" |
  "inactive"}], "is_syncing"}` -> 204; an unknown member 404; a body without `tags` 400 "Invalid Resource".
- `POST /3.0/customer-journeys/journeys/{journey_id}/steps/{step_id}/actions/trigger` `{"email_address"}` -> 204;
  an address not in the journey's audience 400 "Bad Request".
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import urlencode

from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest


def problem(status: int, title: str) -> dict[str, Any]:
    return {"type": "https://mailchimp.com/developer/marketing/docs/errors/", "title": title, "status": status,
            "detail": "The requested resource could not be found.", "instance": "a1b2c3d4-0000-0000-0000-000000000000"}


def md5(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()


def audience_webhook(kind: str, email: str, list_id: str = "a6b5da1054", member_id: str = "8a25ff1d98",
                     fired_at: str = "2026-01-06 15:30:00", **data: str) -> bytes:
    """A delivery as Mailchimp form-encodes it: `type`, `fired_at`, `data[...]`."""
    fields = {"type": kind, "fired_at": fired_at, "data[id]": member_id, "data[email]": email,
              "data[email_type]": "html", "data[list_id]": list_id, "data[merges][EMAIL]": email,
              **{f"data[{k}]": v for k, v in data.items()}}
    return urlencode(fields).encode()


class FakeMailchimp(FakeServer):
    def __init__(self, api_key: str = "0123456789abcdef0123456789abcdef-us6") -> None:
        self.api_key = api_key
        self.members: dict[tuple[str, str], dict[str, Any]] = {}
        self.journeys: dict[tuple[str, str], set[str]] = {}  # (journey, step) -> addresses in its audience
        self.triggered: list[tuple[str, str, str]] = []
        super().__init__()

    def add_member(self, list_id: str, email: str, status: str = "subscribed") -> None:
        self.members[(list_id, md5(email))] = {"id": md5(email), "email_address": email, "status": status,
                                               "list_id": list_id, "tags": []}

    def tags(self, list_id: str, email: str) -> list[str]:
        member = self.members.get((list_id, md5(email)))
        return [t["name"] for t in member["tags"]] if member else []

    def setup_routes(self) -> None:
        self.route("GET", "/3.0/ping$", self._ping)
        self.route("GET", "/3.0/lists/(?P<list>[^/]+)/members/(?P<hash>[0-9a-f]{32})$", self._member)
        self.route("POST", "/3.0/lists/(?P<list>[^/]+)/members/(?P<hash>[0-9a-f]{32})/tags$", self._tag)
        self.route("POST", "/3.0/customer-journeys/journeys/(?P<j>[0-9]+)/steps/(?P<s>[0-9]+)/actions/trigger$",
                   self._trigger)

    def _refused(self, req: RecordedRequest) -> FakeResponse | None:
        scheme, _, value = req.headers.get("authorization", "").partition(" ")
        try:
            _, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            password = ""
        if scheme.lower() == "basic" and password == self.api_key:
            return None
        return FakeResponse(401, problem(401, "API Key Invalid"))

    def _ping(self, req: RecordedRequest, m: Any) -> FakeResponse:
        return self._refused(req) or FakeResponse(200, {"health_status": "Everything's Chimpy!"})

    def _member(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        member = self.members.get((m["list"], m["hash"]))
        return FakeResponse(200, member) if member else FakeResponse(404, problem(404, "Resource Not Found"))

    def _tag(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        member = self.members.get((m["list"], m["hash"]))
        if member is None:
            return FakeResponse(404, problem(404, "Resource Not Found"))
        body = req.json() or {}
        tags = body.get("tags")
        if not isinstance(tags, list) or not all(isinstance(t, dict) and t.get("name") for t in tags):
            return FakeResponse(400, problem(400, "Invalid Resource"))
        for tag in tags:
            member["tags"] = [t for t in member["tags"] if t["name"] != tag["name"]]
            if tag.get("status", "active") == "active":
                member["tags"].append({"name": tag["name"]})
        return FakeResponse(204)

    def _trigger(self, req: RecordedRequest, m: Any) -> FakeResponse:
        refused = self._refused(req)
        if refused:
            return refused
        email = (req.json() or {}).get("email_address")
        if not isinstance(email, str) or email.lower() not in self.journeys.get((m["j"], m["s"]), set()):
            return FakeResponse(400, problem(400, "Bad Request"))
        self.triggered.append((m["j"], m["s"], email))
        return FakeResponse(204)
