"""A fake Gmail mailbox, from the Gmail API reference (https://developers.google.com/gmail/api/reference/rest):
`messages.send` (base64url `raw`, answered `{id, threadId, labelIds}`), `messages.list` with the `rfc822msgid:`
search, `messages.get?format=full` (`payload.headers`, base64url `body.data`), `history.list` (`messagesAdded`,
`historyId`, `nextPageToken`; 404 for a start older than what is kept) and `users.watch`. It also serves a JWKS
at `/oauth2/v3/certs` and mints Pub/Sub push tokens (RS256, `iss` https://accounts.google.com) and push
envelopes, as Pub/Sub does for a subscription with `pushConfig.oidcToken`
(https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions).
"""

from __future__ import annotations

import base64
import email.policy
import json
import time
from email.parser import BytesParser
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest

PUSH_ACCOUNT = "gmail-push@noshow-test.iam.gserviceaccount.com"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class GmailFake(FakeServer):
    def __init__(self, mailbox: str = "clinic@example.com", token: str = "gmail-token", page_size: int = 2) -> None:
        self.mailbox, self.token, self.page_size = mailbox, token, page_size
        self.messages: dict[str, dict[str, Any]] = {}
        self.history: list[tuple[int, str]] = []  # (history id, message id added to INBOX)
        self.history_id, self.oldest_kept = 1000, 0
        self.key = RSAKey.generate_key(2048, parameters={"kid": "push-1"})
        super().__init__()

    # ------------------------------------------------------------ test helpers
    def _add(self, headers: dict[str, str], text: str, labels: list[str], thread: str) -> str:
        gmail_id = f"18c{len(self.messages):013x}"
        self.history_id += 7  # increasing, not contiguous
        self.messages[gmail_id] = {
            "id": gmail_id, "threadId": thread, "labelIds": labels, "historyId": str(self.history_id),
            "internalDate": str(int(time.time() * 1000)),
            "payload": {"mimeType": "text/plain", "headers": [{"name": k, "value": v} for k, v in headers.items()],
                        "body": {"size": len(text), "data": _b64url(text.encode())}}}
        if "INBOX" in labels:
            self.history.append((self.history_id, gmail_id))
        return gmail_id

    def deliver(self, sender: str, text: str, message_id: str, thread: str = "t-reply") -> str:
        """A customer's reply arriving in the INBOX."""
        return self._add({"From": sender, "To": self.mailbox, "Subject": "Re: We missed you",
                          "Message-ID": f"<{message_id}>"}, text, ["INBOX", "UNREAD"], thread)

    def sent(self) -> list[dict[str, Any]]:
        return [m for m in self.messages.values() if "SENT" in m["labelIds"]]

    def push_token(self, audience: str, **overrides: Any) -> str:
        now = int(time.time())
        claims = {"iss": "https://accounts.google.com", "aud": audience, "email": PUSH_ACCOUNT,
                  "email_verified": True, "sub": "1234567890", "iat": now, "exp": now + 3600, **overrides}
        return jwt.encode({"alg": "RS256", "kid": "push-1", "typ": "JWT"}, claims, self.key)

    def push_body(self, message_id: str = "2070443601311540", mailbox: str | None = None) -> bytes:
        data = json.dumps({"emailAddress": mailbox or self.mailbox, "historyId": str(self.history_id)}).encode()
        return json.dumps({"message": {"data": base64.b64encode(data).decode(), "messageId": message_id,
                                       "publishTime": "2026-12-03T12:00:00.000Z"},
                           "subscription": "projects/noshow-test/subscriptions/gmail-push"}).encode()

    # ------------------------------------------------------------ routes
    def setup_routes(self) -> None:
        self.route("GET", r"/oauth2/v3/certs", self._certs)
        self.route("POST", r"/gmail/v1/users/me/messages/send", self._send)
        self.route("GET", r"/gmail/v1/users/me/messages", self._list)
        self.route("GET", r"/gmail/v1/users/me/messages/([^/]+)", self._get)
        self.route("GET", r"/gmail/v1/users/me/history", self._history)
        self.route("POST", r"/gmail/v1/users/me/watch", self._watch)

    def _denied(self, req: RecordedRequest) -> FakeResponse | None:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return FakeResponse(401, {"error": {"code": 401, "message": "Invalid Credentials",
                                                "status": "UNAUTHENTICATED"}})
        return None

    def _certs(self, req: RecordedRequest, m: Any) -> FakeResponse:
        return FakeResponse(200, KeySet([self.key]).as_dict(private=False))

    def _send(self, req: RecordedRequest, m: Any) -> FakeResponse:
        denied = self._denied(req)
        if denied:
            return denied
        gmail_id = self.store_raw(str((req.json() or {}).get("raw") or ""))
        if gmail_id is None:
            return FakeResponse(400, {"error": {"code": 400, "message": "Recipient address required",
                                                "status": "INVALID_ARGUMENT"}})
        found = self.messages[gmail_id]
        return FakeResponse(200, {"id": gmail_id, "threadId": found["threadId"], "labelIds": ["SENT"]})

    def store_raw(self, raw: str) -> str | None:
        """Send a raw message into SENT, as a send Gmail accepted (also one whose answer was lost)."""
        try:
            mail = BytesParser(policy=email.policy.default).parsebytes(
                base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        except ValueError:
            return None
        if not mail["To"]:
            return None
        body = mail.get_body(preferencelist=("plain",))
        return self._add({k: str(v) for k, v in mail.items()}, str(body.get_content()) if body else "", ["SENT"],
                         f"t-{len(self.messages)}")

    def _list(self, req: RecordedRequest, m: Any) -> FakeResponse:
        denied = self._denied(req)
        if denied:
            return denied
        q = req.query.get("q", "")
        wanted = q.removeprefix("rfc822msgid:").strip("<>") if q.startswith("rfc822msgid:") else None
        hits = [{"id": i, "threadId": x["threadId"]} for i, x in self.messages.items()
                if wanted is None or any(h["name"].lower() == "message-id" and h["value"].strip("<>") == wanted
                                         for h in x["payload"]["headers"])]
        return FakeResponse(200, {"messages": hits, "resultSizeEstimate": len(hits)} if hits
                            else {"resultSizeEstimate": 0})

    def _get(self, req: RecordedRequest, m: Any) -> FakeResponse:
        denied = self._denied(req)
        found = self.messages.get(m.group(1))
        if denied or found is None:
            return denied or FakeResponse(404, {"error": {"code": 404, "message": "Requested entity was not found.",
                                                          "status": "NOT_FOUND"}})
        return FakeResponse(200, found)

    def _history(self, req: RecordedRequest, m: Any) -> FakeResponse:
        denied = self._denied(req)
        if denied:
            return denied
        start = int(req.query.get("startHistoryId") or 0)
        if start < self.oldest_kept:
            return FakeResponse(404, {"error": {"code": 404, "message": "Requested entity was not found.",
                                                "status": "NOT_FOUND"}})
        after = [(h, i) for h, i in self.history if h > start]
        offset = int(req.query.get("pageToken") or 0)
        page = after[offset:offset + self.page_size]
        body: dict[str, Any] = {"historyId": str(self.history_id), "history": [
            {"id": str(h), "messages": [{"id": i, "threadId": self.messages[i]["threadId"]}],
             "messagesAdded": [{"message": {"id": i, "threadId": self.messages[i]["threadId"],
                                            "labelIds": self.messages[i]["labelIds"]}}]} for h, i in page]}
        if offset + self.page_size < len(after):
            body["nextPageToken"] = str(offset + self.page_size)
        return FakeResponse(200, body)

    def _watch(self, req: RecordedRequest, m: Any) -> FakeResponse:
        denied = self._denied(req)
        if denied:
            return denied
        return FakeResponse(200, {"historyId": str(self.history_id),
                                  "expiration": str(int((time.time() + 7 * 86400) * 1000))})
