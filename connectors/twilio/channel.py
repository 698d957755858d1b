"""Outbound SMS and WhatsApp through the official `twilio` SDK (Messages API 2010-04-01).

The Messages API has no idempotency key. Every send is written to a send log first; a retry that finds its
message id still pending (the first attempt timed out or lost its connection after the request left) lists
the recent messages to that recipient and adopts the one the first attempt created instead of sending again.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from connectors.contract import (
    AmbiguousSendError,
    OutboundMessage,
    PermanentProviderError,
    RetryableProviderError,
    SendReceipt,
)
from connectors.http import parse_retry_after
from connectors.settings import secret
from connectors.twilio.sendlog import MemorySendLog, SendLog, first_receipt
from connectors.twilio.settings import TwilioSettings
from domain.models import Channel

SCOPE = "twilio"

# Error codes (twilio.com/docs/api/errors). 21610: the recipient replied STOP, Twilio blocks every send.
OPT_OUT_CODES = frozenset({21610})
# WhatsApp free text (or a template sent as Body, or a content type that cannot open a conversation) outside the
# 24 h customer-service window (https://www.twilio.com/docs/api/errors/63016): only a Content template may go.
OUTSIDE_WINDOW_CODES = frozenset({63016})
# Not a phone Twilio can reach: invalid To (21211), not SMS-capable / landline (21614), unroutable (21612),
# region not enabled (21408), template parameters over WhatsApp's 1024 characters (63021,
# https://www.twilio.com/docs/api/errors/63021), and the window codes above.
PERMANENT_CODES = frozenset({21211, 21612, 21614, 21408, 21606, 21617, 63021, *OUTSIDE_WINDOW_CODES})
# 20429: too many concurrent requests, never processed. 21611: the sender's queue holds more than 10 hours.
RETRYABLE_CODES = frozenset({20429, 21611, 30001})

# The SDK logs query parameters (recipient phones when listing) at INFO: give it a logger of its own.
_sdk_logger = logging.getLogger("connectors.twilio.sdk")
# raised before the request leaves (a misconfigured TWILIO_API_BASE_URL): retrying cannot help
_CODE = re.compile(r"[0-9]{1,9}")
_CONFIG_ERRORS = (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                  requests.exceptions.InvalidSchema)
_sdk_logger.setLevel(logging.WARNING)
_sdk_logger.propagate = False


class _HeaderKeepingClient(TwilioHttpClient):  # type: ignore[misc]  # the twilio package ships no type information
    """TwilioRestException drops the response headers; Retry-After is needed for a 429."""

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout=timeout, logger=_sdk_logger)
        self._local = threading.local()

    def request(self, *args: Any, **kwargs: Any) -> Response:
        self._local.headers = {}
        response = super().request(*args, **kwargs)
        self._local.headers = {k.lower(): v for k, v in (response.headers or {}).items()}
        return response

    def last_headers(self) -> dict[str, str]:
        return dict(getattr(self._local, "headers", {}) or {})


def _retry_after(headers: dict[str, str]) -> float | None:
    return parse_retry_after(headers.get("retry-after"))


def _error_code(value: object) -> int | None:
    """Twilio's numeric error code; None for anything else ('²'.isdigit() is true, so is a 5,000-digit string)."""
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    return int(text) if _CODE.fullmatch(text) else None


def _whatsapp(address: str) -> str:
    return address if address.startswith("whatsapp:") else f"whatsapp:{address}"


class TwilioChannel:
    """contract.MessageChannel for Channel.sms and Channel.whatsapp."""

    def __init__(self, settings: TwilioSettings, send_log: SendLog | None = None,
                 client: Client | None = None) -> None:
        if not settings.account_sid or not (secret(settings.auth_token) or ""):
            raise ValueError("Twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        self.settings = settings
        self.send_log: SendLog = send_log or MemorySendLog()
        self._http = _HeaderKeepingClient(timeout=settings.timeout_seconds)
        self.client = client or Client(settings.account_sid, (secret(settings.auth_token) or ""),
                                       http_client=self._http)
        if settings.api_base_url:
            self.client.api.base_url = settings.api_base_url.rstrip("/")

    # ------------------------------------------------------------ addressing

    def _addresses(self, message: OutboundMessage) -> tuple[str, dict[str, str]]:
        s = self.settings
        if message.channel == Channel.whatsapp:
            sender = s.whatsapp_from
            to = _whatsapp(message.to)
            if not sender and not s.messaging_service_sid:
                raise PermanentProviderError("no WhatsApp sender configured", code="config")
            if sender:
                return to, {"from_": _whatsapp(sender)}
            return to, {"messaging_service_sid": s.messaging_service_sid or ""}
        if message.channel != Channel.sms:
            raise PermanentProviderError(f"Twilio cannot send {message.channel.value}", code="channel")
        if s.messaging_service_sid:
            return message.to, {"messaging_service_sid": s.messaging_service_sid}
        if not s.from_number:
            raise PermanentProviderError("no SMS sender configured", code="config")
        return message.to, {"from_": s.from_number}

    def status_callback(self, message: OutboundMessage) -> str | None:
        """The callback URL with our (opaque) ids in its query: Twilio signs the URL it calls, so the ids
        come back authenticated on every status callback. Defaults to <public base>/webhooks/twilio."""
        s = self.settings
        url = s.status_callback_url or (f"{s.public_base_url.rstrip('/')}/webhooks/twilio" if s.public_base_url
                                        else None)
        if not url:
            return None
        ids = urlencode({"case_id": message.case_id, "message_id": message.message_id})
        return f"{url}{'&' if '?' in url else '?'}{ids}"

    # ------------------------------------------------------------ contract

    def lookup(self, message_id: str) -> SendReceipt | None:
        return first_receipt(self.send_log, SCOPE, message_id, "queued")

    def send(self, message: OutboundMessage) -> SendReceipt:
        known = self.lookup(message.message_id)
        if known:
            return known
        to, sender = self._addresses(message)
        previous = self.send_log.get(SCOPE, message.message_id)
        if previous is not None and previous.state == "pending":
            found = self._find_sent(message, to, sender, previous.started_at)
            if found is not None:
                return found
        self.send_log.begin(SCOPE, message.message_id, datetime.now(UTC))
        params: dict[str, Any] = {"to": to, **sender}
        if message.content_sid:
            # a Content template: Twilio wants no Body or MediaUrl beside it (twilio.com/docs/api/errors/63016)
            params["content_sid"] = message.content_sid
            if message.content_variables:
                params["content_variables"] = json.dumps(message.content_variables, ensure_ascii=False)
        elif message.template_id and message.template_id.startswith("HX"):
            # an approved Content template: the only thing WhatsApp accepts outside the 24 h window
            params["content_sid"] = message.template_id
        else:
            params["body"] = message.body
        callback = self.status_callback(message)
        if callback:
            params["status_callback"] = callback
        try:
            created = self.client.messages.create(**params)
        except TwilioRestException as exc:
            raise self._map_error(message.message_id, exc) from None
        except requests.exceptions.ConnectTimeout:
            # the request never reached Twilio: safe to send again
            self.send_log.fail(SCOPE, message.message_id)
            raise RetryableProviderError("twilio: connect timeout") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise AmbiguousSendError(f"twilio: {type(exc).__name__} after sending; look up before resending") from None
        except _CONFIG_ERRORS as exc:
            self.send_log.fail(SCOPE, message.message_id)  # the request never left: nothing to look up
            raise PermanentProviderError(f"twilio: {type(exc).__name__}", code="config") from None
        except (TwilioException, requests.exceptions.RequestException) as exc:
            # no HTTP error answer and no transport failure we can place: the message may exist, so look
            # before resending. Only the type is kept: these messages quote URLs (the recipient is in a list
            # query) and provider bodies.
            raise AmbiguousSendError(f"twilio: {type(exc).__name__}; look up before resending") from None
        sid = str(created.sid)
        status = str(created.status or "queued")
        self.send_log.accept(SCOPE, message.message_id, sid, status)
        return SendReceipt(message_id=message.message_id, provider_message_id=sid, status=status)

    # ------------------------------------------------------------ internals

    def _map_error(self, message_id: str, exc: TwilioRestException) -> Exception:
        code = _error_code(exc.code)
        label = f"twilio {exc.status} code {code}"
        if exc.status == 429 or code in RETRYABLE_CODES:
            self.send_log.fail(SCOPE, message_id)  # a 429 is never processed
            return RetryableProviderError(label, retry_after=_retry_after(self._http.last_headers()))
        if exc.status >= 500:
            # ambiguous: the record stays pending so the retry looks before it sends
            return RetryableProviderError(label, retry_after=_retry_after(self._http.last_headers()))
        self.send_log.fail(SCOPE, message_id)
        if code in OPT_OUT_CODES:
            return PermanentProviderError(f"{label}: recipient opted out", code=str(code), opt_out=True)
        if code in OUTSIDE_WINDOW_CODES:
            return PermanentProviderError(f"{label}: outside the WhatsApp window", code=str(code), window_closed=True)
        return PermanentProviderError(label, code=str(code) if code is not None else str(exc.status))

    def _find_sent(self, message: OutboundMessage, to: str, sender: dict[str, str],
                   since: datetime) -> SendReceipt | None:
        """The message a lost attempt created, if any: same recipient and sender, created after the attempt
        began, same body. DateSent is empty while a message is queued, so the date is matched here rather
        than with the API's DateSent filter."""
        filters: dict[str, Any] = {"to": to, "limit": 50}
        if "from_" in sender:
            filters["from_"] = sender["from_"]
        try:
            candidates = self.client.messages.list(**filters)
        except TwilioRestException as exc:
            raise RetryableProviderError(f"twilio lookup {exc.status}",
                                         retry_after=_retry_after(self._http.last_headers())) from None
        except (TwilioException, requests.exceptions.RequestException) as exc:
            # list() raises a bare TwilioException("Unable to fetch page", response) on a non-200 page: its
            # text is the provider's body, which can quote the phone number, and the request URL carries it in
            # the To filter; keep the type only
            raise RetryableProviderError(f"twilio lookup: {type(exc).__name__}",
                                         retry_after=_retry_after(self._http.last_headers())) from None
        floor = since - timedelta(seconds=self.settings.lookup_skew_seconds)
        for m in candidates:
            if m.direction and not str(m.direction).startswith("outbound"):
                continue
            if "messaging_service_sid" in sender and m.messaging_service_sid != sender["messaging_service_sid"]:
                continue
            created_at = m.date_created
            # the SDK hands back the raw string when a date does not parse
            if isinstance(created_at, datetime) and created_at.astimezone(UTC) < floor:
                continue
            if not _same_body(m.body, message):
                continue
            sid = str(m.sid)
            status = str(m.status or "queued")
            self.send_log.accept(SCOPE, message.message_id, sid, status)
            return SendReceipt(message_id=message.message_id, provider_message_id=sid, status=status,
                               duplicate=True)
        return None


def _same_body(sent: str | None, message: OutboundMessage) -> bool:
    if message.content_sid or (message.template_id and message.template_id.startswith("HX")):
        return True  # the rendered template text is not ours to compare
    # Advanced Opt-Out may append compliance text to the body Twilio stores
    return (sent or "").strip().startswith(message.body.strip())
