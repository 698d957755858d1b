"""Gmail API client (base `https://gmail.googleapis.com/`), a Google OAuth bearer token:
- `POST /gmail/v1/users/me/messages/send` `{"raw": <base64url RFC 2822>}` (scope `gmail.send`)
  https://developers.google.com/gmail/api/reference/rest/v1/users.messages/send;
- `GET /gmail/v1/users/me/messages?q=rfc822msgid:<id>` finds a sent message by its `Message-ID` header
  (https://developers.google.com/gmail/api/reference/rest/v1/users.messages/list,
  search operators https://support.google.com/mail/answer/7190);
- `GET /gmail/v1/users/me/messages/{id}?format=full`
  https://developers.google.com/gmail/api/reference/rest/v1/users.messages/get;
- `POST /gmail/v1/users/me/watch` `{topicName, labelIds, labelFilterBehavior}` answering `{historyId,
  expiration}` https://developers.google.com/gmail/api/reference/rest/v1/users/watch;
- `GET /gmail/v1/users/me/history?startHistoryId=&historyTypes=messageAdded&labelId=INBOX&pageToken=`
  (404 for an expired start: a full sync is needed)
  https://developers.google.com/gmail/api/reference/rest/v1/users.history/list.
Scopes: https://developers.google.com/gmail/api/auth/scopes.
"""

from __future__ import annotations

from typing import Any

import httpx

from connectors.http import segment
from connectors.oauth import BearerJsonApi, TokenSource

DEFAULT_BASE_URL = "https://gmail.googleapis.com"
SCOPES = "https://www.googleapis.com/auth/gmail.send https://www.googleapis.com/auth/gmail.readonly"


class HistoryExpired(Exception):
    """`startHistoryId` is too old (404): the mailbox must be resynced from a fresh history id."""


class GmailClient(BearerJsonApi):
    provider = "gmail"

    def __init__(self, access_token: TokenSource, base_url: str = DEFAULT_BASE_URL, timeout: float = 10.0,
                 http: httpx.Client | None = None) -> None:
        super().__init__(access_token, base_url, timeout, http)

    def send(self, raw: str) -> dict[str, Any]:
        body = self.call("POST", "/gmail/v1/users/me/messages/send", json_body={"raw": raw},
                         ambiguous_after_send=True)
        return body if isinstance(body, dict) else {}

    def find_by_message_id(self, rfc822_id: str) -> str | None:
        """The Gmail id of the mailbox's message with this `Message-ID` (sent mail included), or None."""
        body = self.call("GET", "/gmail/v1/users/me/messages",
                         params={"q": f"rfc822msgid:{rfc822_id}", "includeSpamTrash": "true", "maxResults": 1})
        found = body.get("messages") if isinstance(body, dict) else None
        first = found[0] if isinstance(found, list) and found and isinstance(found[0], dict) else {}
        return str(first["id"]) if first.get("id") else None

    def message(self, gmail_id: str) -> dict[str, Any]:
        body = self.call("GET", f"/gmail/v1/users/me/messages/{segment(gmail_id)}", params={"format": "full"})
        return body if isinstance(body, dict) else {}

    def watch(self, topic: str) -> dict[str, Any]:
        body = self.call("POST", "/gmail/v1/users/me/watch", json_body={
            "topicName": topic, "labelIds": ["INBOX"], "labelFilterBehavior": "include"})
        return body if isinstance(body, dict) else {}

    def added_since(self, start_history_id: str) -> tuple[list[str], str | None]:
        """Ids of messages added to INBOX after `start_history_id`, oldest first, and the mailbox's newest
        history id. Raises HistoryExpired on 404."""
        ids: dict[str, None] = {}
        page: str | None = None
        latest: str | None = None
        while True:
            params: dict[str, Any] = {"startHistoryId": start_history_id, "historyTypes": "messageAdded",
                                      "labelId": "INBOX"}
            if page:
                params["pageToken"] = page
            response = self.request("GET", "/gmail/v1/users/me/history", params=params, ok=(404,))
            if response.status_code == 404:
                raise HistoryExpired()
            body = response.json() if response.content else {}
            body = body if isinstance(body, dict) else {}
            latest = str(body["historyId"]) if body.get("historyId") else latest
            for item in body.get("history") or []:
                for added in (item.get("messagesAdded") or []) if isinstance(item, dict) else []:
                    message = added.get("message") if isinstance(added, dict) else None
                    if isinstance(message, dict) and message.get("id"):
                        ids[str(message["id"])] = None
            page = body.get("nextPageToken") if isinstance(body.get("nextPageToken"), str) else None
            if not page:
                return list(ids), latest
