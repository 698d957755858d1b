"""SendGrid Inbound Parse: customers' email replies, POSTed as multipart/form-data.

SendGrid documents no signature for Inbound Parse. The URL configured in SendGrid carries the protection:
a long random token (`?token=...` or as the last path segment) and/or basic auth credentials
(`https://user:password@host/webhooks/sendgrid_parse`), both compared in constant time. At least one must be
configured; without either, the connector refuses to start.
"""

from __future__ import annotations

import base64
import binascii
import email.policy
import hashlib
from datetime import UTC, datetime
from email.parser import BytesParser, HeaderParser
from email.utils import parseaddr
from urllib.parse import parse_qs, urlsplit

from connectors.contract import InboundMessage, RawRequest, SignatureError, WebhookResult
from connectors.inbound import InboundBase, PayloadError, load_json
from connectors.sendgrid.settings import SendGridSettings
from connectors.settings import secret
from connectors.signatures import ReplayCache, constant_time_equals
from domain.models import Channel

MAX_TEXT = 5000  # domain Reply.text limit


def _form_fields(request: RawRequest) -> dict[str, str]:
    """Text fields of a multipart/form-data body (attachments are skipped)."""
    content_type = request.headers.get("content-type", "")
    if "multipart/form-data" not in content_type:
        raise PayloadError("sendgrid parse: expected multipart/form-data")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    if not message.is_multipart():
        raise PayloadError("sendgrid parse: malformed multipart body")
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name or part.get_filename():
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            fields[str(name)] = payload.decode(charset, errors="replace")
        except (LookupError, UnicodeError):  # an unknown charset, or a codec without "replace" (idna)
            fields[str(name)] = payload.decode("utf-8", errors="replace")
    return fields


def strip_quoted(text: str) -> str:
    """The new part of a reply: stops at the quoted original ("On ... wrote:", "> ", a forwarded header)."""
    kept: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(">"):
            break
        if stripped.startswith("On ") and stripped.endswith("wrote:"):
            break
        if stripped.startswith(("-----Original Message-----", "________________")):
            break
        kept.append(line)
    return "\n".join(kept).strip()


class SendGridInboundParse(InboundBase):
    """contract.InboundConnector for `/webhooks/sendgrid_parse` (email replies)."""

    name = "sendgrid_parse"
    replay_ttl_seconds = 3 * 24 * 3600  # SendGrid retries a failed POST for up to 3 days

    def __init__(self, settings: SendGridSettings, replay: ReplayCache | None = None) -> None:
        super().__init__(replay)
        self.token = secret(settings.parse_token) or ""
        self.basic = secret(settings.parse_basic_auth) or ""
        if not self.token and not self.basic:
            raise ValueError("Inbound Parse needs SENDGRID_PARSE_TOKEN and/or SENDGRID_PARSE_BASIC_AUTH")
        self.settings = settings

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        if self.token:
            parts = urlsplit(request.url)
            given = request.query.get("token") or next(iter(parse_qs(parts.query).get("token") or []), None)
            if given is None:
                given = parts.path.rstrip("/").rsplit("/", 1)[-1]
            if not constant_time_equals(self.token, given):
                raise SignatureError("sendgrid parse: bad or missing URL token")
        if self.basic:
            auth = request.headers.get("authorization", "")
            scheme, _, encoded = auth.partition(" ")
            if scheme.lower() != "basic":
                raise SignatureError("sendgrid parse: missing basic auth")
            try:
                given_pair = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise SignatureError("sendgrid parse: malformed basic auth") from exc
            if not constant_time_equals(self.basic, given_pair):
                raise SignatureError("sendgrid parse: bad basic auth")

    def signature_value(self, request: RawRequest) -> str | None:
        return None  # the secret is the same on every request: the body identifies a delivery

    def dedupe_key(self, request: RawRequest) -> str | None:
        fields = _form_fields(request)
        message_id = _message_id(fields)
        return f"sendgrid_parse:{message_id}" if message_id else None

    def parse(self, request: RawRequest) -> WebhookResult:
        fields = _form_fields(request)
        sender = parseaddr(fields.get("from", ""))[1]
        if not sender:
            envelope = _json(fields.get("envelope"))
            sender = str(envelope.get("from") or "") if isinstance(envelope, dict) else ""
        if not sender:
            raise PayloadError("sendgrid parse: no sender")
        recipient = parseaddr(fields.get("to", ""))[1] or None
        text = fields.get("text") or ""
        if not text and fields.get("email"):
            text = _text_from_raw(fields["email"])
        message_id = _message_id(fields) or hashlib.sha256(request.body).hexdigest()[:32]
        message = InboundMessage(
            provider_message_id=message_id,
            channel=Channel.email,
            sender=sender.lower(),
            recipient=recipient.lower() if recipient else None,
            text=strip_quoted(text)[:MAX_TEXT],
            received_at=datetime.now(UTC),
        )
        return WebhookResult(dedupe_key=f"sendgrid_parse:{message_id}", messages=[message])


def _json(value: str | None) -> object:
    if not value:
        return None
    try:
        return load_json(value, "envelope")
    except PayloadError:
        return None


def _message_id(fields: dict[str, str]) -> str | None:
    raw_headers = fields.get("headers")
    if raw_headers:
        value = HeaderParser(policy=email.policy.default).parsestr(raw_headers).get("Message-ID")
        if value:
            return str(value).strip().strip("<>")[:200] or None
    return None


def _text_from_raw(raw: str) -> str:
    """Raw mode sends the whole MIME message in `email`: take its first text/plain part."""
    message = BytesParser(policy=email.policy.default).parsebytes(raw.encode("utf-8", errors="replace"))
    body = message.get_body(preferencelist=("plain",))
    if body is None:
        return ""
    try:
        return str(body.get_content())
    except (LookupError, UnicodeError):  # the customer's mail client named a charset Python does not know
        payload = body.get_payload(decode=True)
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
