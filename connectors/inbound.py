"""Shared pieces of the inbound (webhook) connectors: the verify-then-replay-check skeleton and payload helpers.

A connector subclasses `InboundBase`, implements `check_signature` (raw bytes only), `dedupe_key` and `parse`.
`verify` checks the signature first and only then reads the body to build the replay key.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from connectors.contract import RawRequest, SignatureError, WebhookResult
from connectors.signatures import ReplayCache, fingerprint
from domain.ids import address_key_for


class PayloadError(ValueError):
    """An authentic request whose body we cannot read (the API answers 400; nothing starts)."""


# Default appointment type when a payload names none (no-show updates, CRM outcome changes).
UNKNOWN_TYPE = "unknown"


class InboundBase:
    name = "provider"
    replay_ttl_seconds: float = 24 * 3600

    def __init__(self, replay: ReplayCache | None = None) -> None:
        self.replay = replay or ReplayCache(ttl_seconds=self.replay_ttl_seconds)

    # ---- to implement
    def check_signature(self, request: RawRequest, now: datetime) -> None:
        raise NotImplementedError

    def signature_value(self, request: RawRequest) -> str | None:
        """The header that carries the signature; part of the replay key, so a re-signed retry still passes."""
        return None

    def dedupe_key(self, request: RawRequest) -> str | None:
        raise NotImplementedError

    def parse(self, request: RawRequest) -> WebhookResult:
        raise NotImplementedError

    # ---- shared
    def verify(self, request: RawRequest, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.check_signature(request, now)
        key = self.replay_key(request)
        if key is not None:
            self.replay.check_and_remember(key, now)

    def replay_key(self, request: RawRequest) -> str | None:
        try:
            dedupe = self.dedupe_key(request)
        except (PayloadError, SignatureError):
            dedupe = None
        return f"{self.name}:{fingerprint(dedupe or request.body, self.signature_value(request))}"

    def forget(self, request: RawRequest) -> None:
        """Handling failed after `verify`: let the provider's identical retry through."""
        key = self.replay_key(request)
        if key is not None:
            self.replay.forget(key)


def load_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError("body is not JSON") from exc


def as_dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{what} is not an object")
    return value


def parse_dt(value: Any, what: str = "timestamp") -> datetime:
    """ISO-8601 (with Z), unix seconds or unix milliseconds -> aware UTC datetime."""
    if isinstance(value, bool) or value is None or value == "":
        raise PayloadError(f"missing {what}")
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 10_000_000_000 else value
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return parse_dt(int(text), what)
        try:
            at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise PayloadError(f"malformed {what}") from exc
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    raise PayloadError(f"malformed {what}")


def opt_dt(value: Any) -> datetime | None:
    try:
        return parse_dt(value)
    except PayloadError:
        return None


def digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(str(part).encode())
        h.update(b"\x1f")
    return h.hexdigest()[:24]


def event_id(source: str, dedupe_key: str | None, index: int, body: bytes = b"") -> str:
    """Stable across retries of the same delivery: derived from the dedupe key, never from PII."""
    return f"{source}-{digest(dedupe_key or hashlib.sha256(body).hexdigest())}-{index}"


def contact_id_for(source: str, email: str | None, provider_id: str | None = None, fallback: str = "") -> str:
    """An opaque contact id: the provider's own id when it has one, else a keyed hash of the email
    (the same person gets the same id across bookings), else a per-appointment fallback."""
    if provider_id:
        safe = "".join(c if c.isalnum() or c in "._:-" else "-" for c in str(provider_id))[:100]
        return f"{source}:{safe}"
    if email:
        return f"{source}:{address_key_for(email)}"
    return f"{source}:anon-{digest(fallback)}"


def clip(text: Any, limit: int) -> str | None:
    if text is None or text == "":
        return None
    return str(text)[:limit]
