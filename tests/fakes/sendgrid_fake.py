"""A fake SendGrid v3 Mail Send for the real `sendgrid` SDK.

202 with an empty body and `X-Message-Id` on success; errors in SendGrid's {"errors": [{"message", "field",
"help"}]} shape: 401 bad key, 400 invalid address or missing fields, 429 with Retry-After / X-RateLimit-*,
500. `accept_then_reset_next` queues the mail and then drops the connection.
"""

from __future__ import annotations

import re
import secrets
import socket
import struct
import threading
from typing import Any

from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest

API_KEY = "SG.fake-key.fake-secret"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_AFTER = "X-Fake-After"


def sendgrid_errors(*errors: tuple[str, str | None]) -> dict[str, Any]:
    return {"errors": [{"message": m, "field": f, "help": None} for m, f in errors]}


class SendGridFake(FakeServer):
    def __init__(self) -> None:
        self.mails: list[dict[str, Any]] = []
        self.message_ids: list[str] = []
        self._after_accept: list[str] = []
        self._mail_lock = threading.Lock()
        super().__init__()

    def rate_limit_next(self, retry_after: str = "7", body: Any = None, times: int = 1) -> None:
        self.fail_next(429, body or sendgrid_errors(("too many requests", None)),
                       {"Retry-After": retry_after, "X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0"}, times)

    def server_error_next(self, times: int = 1) -> None:
        self.fail_next(500, sendgrid_errors(("internal error", None)), times=times)

    def accept_then_reset_next(self) -> None:
        with self._mail_lock:
            self._after_accept.append("reset")

    def setup_routes(self) -> None:
        self.route("POST", r"/v3/mail/send", self._send)
        self.route("GET", r"/v3/scopes", self._scopes)

    def _scopes(self, req: RecordedRequest, match: re.Match[str]) -> FakeResponse:
        """The API key's scopes (https://www.twilio.com/docs/sendgrid/api-reference/api-key-permissions)."""
        if req.headers.get("authorization") != f"Bearer {API_KEY}":
            return FakeResponse(401, sendgrid_errors(("authorization required", None)))
        return FakeResponse(200, {"scopes": ["mail.send", "alerts.read", "user.profile.read"]})

    def _send(self, req: RecordedRequest, match: re.Match[str]) -> FakeResponse:
        if req.headers.get("authorization") != f"Bearer {API_KEY}":
            return FakeResponse(401, sendgrid_errors(
                ("The provided authorization grant is invalid, expired, or revoked", None)))
        body = req.json()
        if not isinstance(body, dict) or not body.get("personalizations"):
            return FakeResponse(400, sendgrid_errors(("The personalizations field is required and must have at "
                                                      "least one personalization.", "personalizations")))
        if not (body.get("from") or {}).get("email"):
            return FakeResponse(400, sendgrid_errors(("The from object must be provided for every email send.",
                                                      "from")))
        for i, p in enumerate(body["personalizations"]):
            for j, to in enumerate(p.get("to") or []):
                if not EMAIL.match(str(to.get("email", ""))):
                    return FakeResponse(400, sendgrid_errors(("Does not contain a valid address.",
                                                              f"personalizations.{i}.to.{j}.email")))
        message_id = secrets.token_urlsafe(16)
        with self._mail_lock:
            self.mails.append(body)
            self.message_ids.append(message_id)
            after = self._after_accept.pop(0) if self._after_accept else None
        headers = {"X-Message-Id": message_id}
        if after:
            headers[_AFTER] = after
        return FakeResponse(202, None, headers)

    def _write(self, h: Any, response: FakeResponse) -> None:  # type: ignore[override]
        if response.headers.pop(_AFTER, None) == "reset":
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
            h.close_connection = True
            return
        FakeServer._write(h, response)
