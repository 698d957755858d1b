"""Mailchimp Marketing API v3 client: member tags, Customer Journey triggers, the member's status and `/ping`.

References (Mailchimp's public documentation and its official SDK, `mailchimp-marketing` on PyPI):
- Base `https://{dc}.api.mailchimp.com/3.0`, `{dc}` the suffix of the API key after its last `-`; HTTP Basic with
  any user name and the key as password https://mailchimp.com/developer/marketing/docs/fundamentals/.
- Members are addressed by `subscriber_hash`, the MD5 of the lowercased email
  https://mailchimp.com/developer/marketing/docs/methods-parameters/#path-parameters.
- Tags: `POST /lists/{list_id}/members/{subscriber_hash}/tags` with `{"tags": [{"name", "status": "active"}],
  "is_syncing": false}` https://mailchimp.com/developer/marketing/api/list-member-tags/add-or-remove-member-tags/
  (UNVERIFIED: the body shape beyond the SDK's path, and its 204 answer).
- Customer Journeys: `POST /customer-journeys/journeys/{journey_id}/steps/{step_id}/actions/trigger` with
  `{"email_address"}` https://mailchimp.com/developer/marketing/api/customer-journeys-journeys-steps-actions/
  (UNVERIFIED: the 204 answer, and the error when the address is not in the journey's audience).
- Member: `GET /lists/{list_id}/members/{subscriber_hash}` (`status` subscribed / unsubscribed / cleaned /
  pending / transactional); health check `GET /ping`.
- Errors are problem documents `{"type", "title", "status", "detail", "instance"}`; `detail` can quote the
  address, so only the status and `title` reach an exception.
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from connectors.http import JsonApi, segment


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: MD5 of the lowercased address (a lookup key, not a secret)."""
    return hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()


def data_centre(api_key: str) -> str:
    """`us6` of `0123abcd-us6`; a key without the suffix cannot name its data centre."""
    _, _, dc = api_key.rpartition("-")
    if not _ or not dc.isalnum():
        raise ValueError("a Mailchimp API key ends with its data centre (-us6)")
    return dc


class MailchimpClient(JsonApi):
    provider = "mailchimp"

    def __init__(self, api_key: str, base_url: str | None = None, timeout: float = 10.0,
                 http: httpx.Client | None = None) -> None:
        if not api_key:
            raise ValueError("Mailchimp needs an API key")
        base = base_url or f"https://{data_centre(api_key)}.api.mailchimp.com/3.0"
        super().__init__(base, {"Accept": "application/json"}, timeout, http)
        self.http.auth = httpx.BasicAuth("noshow", api_key)

    def ping(self) -> dict[str, Any]:
        found = self.call("GET", "/ping")
        return found if isinstance(found, dict) else {}

    def member_status(self, list_id: str, email: str) -> str | None:
        found = self.call("GET", f"/lists/{segment(list_id)}/members/{subscriber_hash(email)}",
                          params={"fields": "status"})
        status = found.get("status") if isinstance(found, dict) else None
        return status if isinstance(status, str) else None

    def add_tag(self, list_id: str, email: str, tag: str) -> None:
        # adding an active tag twice leaves one tag: the call is safe to repeat
        self.call("POST", f"/lists/{segment(list_id)}/members/{subscriber_hash(email)}/tags",
                  json_body={"tags": [{"name": tag, "status": "active"}], "is_syncing": False})

    def trigger_journey(self, journey_id: str, step_id: str, email: str) -> None:
        self.call("POST", f"/customer-journeys/journeys/{segment(journey_id)}/steps/{segment(step_id)}"
                          "/actions/trigger", json_body={"email_address": email}, ambiguous_after_send=True)
