"""A fake Twilio Messages API (2010-04-01) for the real `twilio` SDK: create, list and fetch messages.

Errors use Twilio's JSON shape ({"code", "message", "more_info", "status"}) and real codes: 20003 bad
credentials, 21211 invalid To, 21614 not a mobile number, 21610 recipient opted out (STOP), 20429 too many
requests (429 + Retry-After), 20500 internal error, 63016 WhatsApp free text outside the 24 h customer-service
window (https://www.twilio.com/docs/api/errors/63016) once `enforce_whatsapp_window` is on: a WhatsApp send
with a Body goes only to a number whose last inbound message (`whatsapp_inbound`) is under 24 h old, a
ContentSid template goes always. `accept_then_reset_next` / `accept_then_hang_next`
create the message and then lose the answer: the ambiguous failure the connector must survive.
"""

from __future__ import annotations

import base64
import re
import secrets
import socket
import struct
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest

ACCOUNT_SID = "AC00000000000000000000000000000001"
AUTH_TOKEN = "fake_twilio_auth_token"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_AFTER = "X-Fake-After"  # internal marker: what to do instead of answering


def twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}


@dataclass
class FakeMessage:
    sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str | None
    content_sid: str | None
    content_variables: str | None
    status_callback: str | None
    status: str
    date_created: datetime

    def resource(self) -> dict[str, Any]:
        created = format_datetime(self.date_created, usegmt=True)
        return {
            "sid": self.sid, "account_sid": ACCOUNT_SID, "api_version": "2010-04-01", "to": self.to,
            "from": self.from_, "messaging_service_sid": self.messaging_service_sid, "body": self.body or "",
            "status": self.status, "direction": "outbound-api", "num_segments": "1", "num_media": "0",
            "date_created": created, "date_updated": created, "date_sent": None, "error_code": None,
            "error_message": None, "price": None, "price_unit": "USD",
            "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{self.sid}.json", "subresource_uris": {},
        }


class TwilioFake(FakeServer):
    def __init__(self) -> None:
        self.messages: list[FakeMessage] = []
        self.opted_out: set[str] = set()  # E.164 numbers that texted STOP -> 21610
        self.landlines: set[str] = set()  # -> 21614
        self.enforce_whatsapp_window = False
        self.whatsapp_inbound: dict[str, datetime] = {}  # E.164 -> the customer's last WhatsApp message
        self._after_accept: list[str] = []
        self._msg_lock = threading.Lock()
        super().__init__()

    # ------------------------------------------------------------ failure knobs
    def rate_limit_next(self, retry_after: str = "7", body: Any = None, times: int = 1) -> None:
        super().rate_limit_next(retry_after, body or twilio_error(429, 20429, "Too Many Requests"), times)

    def server_error_next(self, times: int = 1) -> None:
        self.fail_next(500, twilio_error(500, 20500, "Internal Server Error"), times=times)

    def accept_then_reset_next(self) -> None:
        with self._msg_lock:
            self._after_accept.append("reset")

    def accept_then_hang_next(self) -> None:
        with self._msg_lock:
            self._after_accept.append("hang")

    # ------------------------------------------------------------ routes
    def setup_routes(self) -> None:
        base = r"/2010-04-01/Accounts/(?P<account>AC[0-9a-f]+)"
        self.route("POST", base + r"/Messages\.json", self._create)
        self.route("GET", base + r"/Messages\.json", self._list)
        self.route("GET", base + r"/Messages/(?P<sid>SM[0-9a-f]+)\.json", self._fetch)
        self.route("GET", base + r"\.json", self._account)

    def _auth_error(self, req: RecordedRequest, match: re.Match[str]) -> FakeResponse | None:
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if req.headers.get("authorization") != expected or match["account"] != ACCOUNT_SID:
            return FakeResponse(401, twilio_error(401, 20003, "Authenticate"))
        return None

    def _account(self, req: RecordedRequest, match: re.Match[str]) -> FakeResponse:
        """Fetch an Account (https://www.twilio.com/docs/iam/api/account#fetch-an-account-resource)."""
        if (denied := self._auth_error(req, match)) is not None:
            return denied
        return FakeResponse(200, {"sid": ACCOUNT_SID, "friendly_name": "Noshow test", "status": "active",
                                  "type": "Full", "date_created": "Tue, 06 Jan 2026 15:30:00 +0000",
                                  "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}.json"})

    def _create(self, req: RecordedRequest, match: re.Match[str]) -> FakeResponse:
        if (denied := self._auth_error(req, match)) is not None:
            return denied
        form = {k: v[0] for k, v in parse_qs(req.body.decode(), keep_blank_values=True).items()}
        to = form.get("To", "")
        number = to.removeprefix("whatsapp:")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return FakeResponse(400, twilio_error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is "
                                                              "required to send a message"))
        if not form.get("Body") and not form.get("ContentSid") and not form.get("MediaUrl"):
            return FakeResponse(400, twilio_error(400, 21602, "Message body is required."))
        if not E164.match(number):
            return FakeResponse(400, twilio_error(400, 21211, "Invalid 'To' Phone Number"))
        if number in self.landlines:
            return FakeResponse(400, twilio_error(400, 21614, "'To' number is not a valid mobile number"))
        if number in self.opted_out:
            return FakeResponse(400, twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"))
        if to.startswith("whatsapp:") and form.get("ContentSid") and (form.get("Body") or form.get("MediaUrl")):
            return FakeResponse(400, twilio_error(400, 63016, "Remove Body and MediaUrl when you send a "
                                                              "content template"))
        last = self.whatsapp_inbound.get(number)
        if (self.enforce_whatsapp_window and to.startswith("whatsapp:") and not form.get("ContentSid")
                and (last is None or (datetime.now(UTC) - last).total_seconds() >= 24 * 3600)):
            return FakeResponse(400, twilio_error(400, 63016, "Outside messaging window. For WhatsApp, use a "
                                                              "Message Template instead."))
        message = FakeMessage(
            sid="SM" + secrets.token_hex(16), to=to, from_=form.get("From"),
            messaging_service_sid=form.get("MessagingServiceSid"), body=form.get("Body"),
            content_sid=form.get("ContentSid"), content_variables=form.get("ContentVariables"),
            status_callback=form.get("StatusCallback"),
            status="accepted" if form.get("MessagingServiceSid") else "queued", date_created=datetime.now(UTC),
        )
        with self._msg_lock:
            self.messages.append(message)
            after = self._after_accept.pop(0) if self._after_accept else None
        headers = {_AFTER: after} if after else {}
        return FakeResponse(201, message.resource(), headers)

    def _list(self, req: RecordedRequest, match: re.Match[str]) -> FakeResponse:
        if (denied := self._auth_error(req, match)) is not None:
            return denied
        q = req.query
        with self._msg_lock:
            rows = [m for m in reversed(self.messages)  # newest first, as Twilio lists them
                    if (not q.get("To") or m.to == q["To"]) and (not q.get("From") or m.from_ == q["From"])]
        size = int(q.get("PageSize", "50"))
        uri = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        return FakeResponse(200, {
            "messages": [m.resource() for m in rows[:size]], "uri": uri, "first_page_uri": uri,
            "next_page_uri": None, "previous_page_uri": None, "page": 0, "page_size": size, "start": 0,
            "end": max(0, min(size, len(rows)) - 1),
        })

    def _fetch(self, req: RecordedRequest, match: re.Match[str]) -> FakeResponse:
        if (denied := self._auth_error(req, match)) is not None:
            return denied
        with self._msg_lock:
            found = next((m for m in self.messages if m.sid == match["sid"]), None)
        if found is None:
            return FakeResponse(404, twilio_error(404, 20404, "The requested resource was not found"))
        return FakeResponse(200, found.resource())

    # ------------------------------------------------------------ answering
    def _write(self, h: BaseHTTPRequestHandler, response: FakeResponse) -> None:  # type: ignore[override]
        after = response.headers.pop(_AFTER, None)
        if after == "reset":
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
            h.close_connection = True
            return
        if after == "hang":
            self._release.wait(self.hang_seconds)
            h.close_connection = True
            return
        FakeServer._write(h, response)
