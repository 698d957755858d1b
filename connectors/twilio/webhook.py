"""Inbound SMS / WhatsApp messages, message status callbacks and Voice call callbacks from Twilio (form-encoded).

Voice: a call status callback (`CallStatus`, https://www.twilio.com/docs/voice/api/call-resource) or a `<Dial>`
action request (`DialCallStatus`, https://www.twilio.com/docs/voice/twiml/dial) of an inbound call that ended
`no-answer`, `busy`, `failed` or `canceled` is a missed call from the customer's number (`From`). The statuses
are those of the SDK's call resource; which of them a given phone set-up sends (status callback events, a
`<Dial>` action URL) is the account's configuration, and the DialCallStatus value list is **UNVERIFIED**.

`X-Twilio-Signature` is checked with the SDK's RequestValidator over the URL Twilio called and every form
parameter (Twilio adds parameters without notice, so nothing is filtered before validation). Twilio signs
no timestamp: staleness cannot be checked, so the shared replay cache refuses the same signed delivery for
24 h (call `forget` when handling fails so Twilio's retry passes) and the dedupe key (MessageSid, plus
MessageStatus for callbacks) drops what slips past.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import parse_qs, urlsplit, urlunsplit

from twilio.request_validator import HMAC_SHA1, HMAC_SHA256, RequestValidator, get_signature_algorithm

from connectors.contract import (
    DeliveryStatus,
    InboundMessage,
    PhoneCall,
    RawRequest,
    SignatureError,
    WebhookResult,
)
from connectors.inbound import InboundBase, PayloadError
from connectors.settings import secret
from connectors.signatures import ReplayCache
from connectors.twilio.channel import OPT_OUT_CODES
from connectors.twilio.settings import TwilioSettings
from domain.models import Channel

StatusName = Literal["queued", "sent", "delivered", "failed", "undelivered", "bounced", "dropped", "spam",
                     "unsubscribed", "opened", "read", "clicked"]

# a call the business did not pick up: no answer, busy, failed, or the caller hung up while it rang
MISSED_CALL_STATUSES = frozenset({"no-answer", "busy", "failed", "canceled"})

# Twilio's MessageStatus -> contract status. receiving/received describe inbound messages: not ours.
_STATUS: dict[str, StatusName] = {
    "accepted": "queued", "scheduled": "queued", "queued": "queued", "sending": "queued",
    "sent": "sent", "delivered": "delivered", "partially_delivered": "sent", "read": "read",
    "failed": "failed", "undelivered": "undelivered", "canceled": "failed",
}


class _MultiDict(dict[str, list[str]]):
    """What RequestValidator expects of a form with repeated names (it calls getlist)."""

    def getlist(self, name: str) -> list[str]:
        return self[name]


def _form(body: bytes) -> _MultiDict:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError("twilio: body is not UTF-8") from exc
    return _MultiDict(parse_qs(text, keep_blank_values=True))


def _request_form(request: RawRequest) -> _MultiDict:
    if request.method.upper() == "GET":
        return _MultiDict({k: [v] for k, v in request.query.items()})
    return _form(request.body)


def _first(form: _MultiDict, name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def _strip_whatsapp(address: str) -> tuple[str, bool]:
    if address.startswith("whatsapp:"):
        return address.removeprefix("whatsapp:"), True
    return address, False


class TwilioWebhook(InboundBase):
    """contract.InboundConnector for `/webhooks/twilio` (messages and status callbacks on one URL or two)."""

    name = "twilio"
    signs_timestamp = False

    def __init__(self, settings: TwilioSettings, replay: ReplayCache | None = None) -> None:
        super().__init__(replay)
        if not (secret(settings.auth_token) or ""):
            raise ValueError("Twilio webhooks need TWILIO_AUTH_TOKEN")
        self.settings = settings
        self._validator = RequestValidator(secret(settings.auth_token) or "")
        shared = secret(settings.webhook_shared_key) or ""
        self._shared_validator = RequestValidator(shared) if shared else None

    def public_url(self, request: RawRequest) -> str:
        """The URL as Twilio called it: the configured public base replaces scheme, host and any prefix a
        proxy strips, the request's own path and query follow."""
        if not self.settings.public_base_url:
            return request.url
        base = urlsplit(self.settings.public_base_url.rstrip("/"))
        own = urlsplit(request.url)
        path = own.path
        # the API already rebuilds request.url from NOSHOW_PUBLIC_BASE_URL, prefix included: add it only once
        if not (base.path and (path == base.path or path.startswith(base.path + "/"))):
            path = base.path + path
        return urlunsplit((base.scheme, base.netloc, path, own.query, ""))

    def signature_value(self, request: RawRequest) -> str | None:
        return request.headers.get("x-twilio-signature")

    def signed_digests(self, request: RawRequest) -> tuple[str, str] | None:
        """Twilio signs the URL followed by every sorted name and value with no separator: `a=bc` and `ab=c`
        sign alike. The first digest is that concatenation (as the SDK's compute_signature builds it), the
        second the parameters as parsed, so a re-split of an accepted form is told apart from its retry."""
        url = self.public_url(request)
        if "bodySHA256" in parse_qs(urlsplit(url).query) or request.method.upper() == "GET":
            digest = hashlib.sha256(url.encode() + b"\n" + request.body).hexdigest()
            return digest, digest
        try:
            form = _form(request.body)
        except PayloadError:
            return None
        signed = url + "".join(name + value for name in sorted(set(form)) for value in sorted(set(form[name])))
        parsed = json.dumps(sorted((name, sorted(set(values))) for name, values in form.items()))
        return (hashlib.sha256(signed.encode("utf-8", "surrogatepass")).hexdigest(),
                hashlib.sha256(parsed.encode("utf-8", "surrogatepass")).hexdigest())

    def dedupe_key(self, request: RawRequest) -> str | None:
        form = _request_form(request)
        call = _first(form, "CallSid")
        if call and not _first(form, "MessageSid"):
            return f"twilio:{call}:{_first(form, 'DialCallStatus') or _first(form, 'CallStatus') or ''}"
        sid = _first(form, "MessageSid") or _first(form, "SmsMessageSid") or _first(form, "SmsSid")
        if not sid:
            return None
        status = _first(form, "MessageStatus")
        return f"twilio:{sid}:{status}" if status else f"twilio:{sid}"

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        signature = request.headers.get("x-twilio-signature", "")
        if not signature:
            raise SignatureError("twilio: missing X-Twilio-Signature")
        algorithm = get_signature_algorithm(request.headers.get("x-twilio-webhooks-signature-settings"))
        validator = self._validator
        if algorithm.upper() == HMAC_SHA256:
            if self._shared_validator is None:
                raise SignatureError("twilio: SharedKey signature but no TWILIO_WEBHOOK_SHARED_KEY")
            validator = self._shared_validator
        elif algorithm.upper() != HMAC_SHA1:
            raise SignatureError("twilio: unsupported signature algorithm")
        url = self.public_url(request)
        params: _MultiDict | str
        if "bodySHA256" in parse_qs(urlsplit(url).query):
            params = request.body.decode("utf-8", errors="replace")  # JSON webhooks sign a body hash
        elif request.method.upper() == "GET":
            params = _MultiDict()  # the query string is part of the signed URL
        else:
            try:
                params = _form(request.body)
            except PayloadError as exc:
                raise SignatureError("twilio: body is not a UTF-8 form") from exc
        if not validator.validate(url, params, signature, algorithm=algorithm):
            raise SignatureError("twilio: signature mismatch")

    def parse(self, request: RawRequest) -> WebhookResult:
        form = _request_form(request)

        def get(name: str) -> str | None:
            return _first(form, name)

        sid = get("MessageSid") or get("SmsMessageSid") or get("SmsSid")
        if not sid and get("CallSid"):
            return self._call(form)
        if not sid:
            raise PayloadError("twilio: no MessageSid")
        if len(sid) > 64 or not (sid.isascii() and sid.isalnum()):
            # a Twilio SID is 34 letters and digits; the engine keys replies by it (at most 200 characters)
            raise PayloadError("twilio: malformed MessageSid")
        status_name = get("MessageStatus")
        now = datetime.now(UTC)
        if status_name is not None:
            mapped = _STATUS.get(status_name)
            if mapped is None:
                return WebhookResult(dedupe_key=f"twilio:{sid}:{status_name}",
                                     unknown_types=[f"twilio:status:{status_name[:40]}"])
            error_code = get("ErrorCode") or None
            if error_code and error_code.strip() in {str(c) for c in OPT_OUT_CODES}:
                mapped = "unsubscribed"  # Twilio refused because the recipient sent STOP
            recipient = get("To")
            # our ids ride in the (signed) callback URL's query: see TwilioChannel.status_callback
            ids = {**{k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}, **request.query}
            status = DeliveryStatus(
                provider_message_id=sid, status=mapped, at=now, error_code=error_code,
                recipient=_strip_whatsapp(recipient)[0] if recipient else None,
                case_id=ids.get("case_id") or None, message_id=ids.get("message_id") or None,
            )
            return WebhookResult(dedupe_key=self.dedupe_key(request), statuses=[status],
                                 response="<Response/>", response_media_type="text/xml")
        sender_raw = get("From") or ""
        sender, is_whatsapp = _strip_whatsapp(sender_raw)
        recipient_raw = get("To")
        opt_out = get("OptOutType")
        message = InboundMessage(
            provider_message_id=sid,
            channel=Channel.whatsapp if is_whatsapp else Channel.sms,
            sender=sender,
            recipient=_strip_whatsapp(recipient_raw)[0] if recipient_raw else None,
            text=get("Body") or "",
            received_at=now,
            opt_out_type=opt_out.upper() if opt_out else None,
        )
        # an empty TwiML response: replies go out through the engine, not from the webhook
        return WebhookResult(dedupe_key=self.dedupe_key(request), messages=[message], response="<Response/>",
                             response_media_type="text/xml")

    def _call(self, form: _MultiDict) -> WebhookResult:
        """A Voice callback: a missed inbound call from the customer, or nothing to act on."""
        sid = _first(form, "CallSid") or ""
        if len(sid) > 64 or not (sid.isascii() and sid.isalnum()):
            raise PayloadError("twilio: malformed CallSid")
        status = _first(form, "DialCallStatus") or _first(form, "CallStatus") or ""
        result = WebhookResult(dedupe_key=f"twilio:{sid}:{status}", response="<Response/>",
                               response_media_type="text/xml")
        direction = _first(form, "Direction") or "inbound"
        caller = _first(form, "From") or ""
        if status in MISSED_CALL_STATUSES and direction == "inbound" and caller:
            result.missed_calls.append(PhoneCall(call_id=sid, caller=_strip_whatsapp(caller)[0][:64],
                                                 at=datetime.now(UTC), status=status, source="twilio"))
        return result
