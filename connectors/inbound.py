"""Shared pieces of the inbound (webhook) connectors: the verify-then-replay-check skeleton and payload helpers.

A connector subclasses `InboundBase`, implements `check_signature` (raw bytes only), `dedupe_key` and `parse`.
`verify` checks the signature first and only then reads the body to build the replay key.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.contract import RawRequest, SignatureError, WebhookResult
from connectors.signatures import ReplayCache, fingerprint, header, parse_int, require
from domain.ids import address_key_for


class PayloadError(ValueError):
    """An authentic request whose body we cannot read (the API answers 400; nothing starts)."""


# Default appointment type when a payload names none (no-show updates, CRM outcome changes).
UNKNOWN_TYPE = "unknown"


class InboundBase:
    name = "provider"
    replay_ttl_seconds: float = 24 * 3600
    # False for a provider whose signature covers no timestamp (Twilio, Cal.com): a captured request stays valid
    # for ever, so the intake remembers what it accepted far longer than any retry (see `signed_digests`).
    signs_timestamp: bool = True

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

    def signed_digests(self, request: RawRequest) -> tuple[str, str] | None:
        """For a provider whose signature carries no timestamp: (digest of exactly what the signature covers,
        digest of the request as the parser reads it). Two requests with the same first and a different second
        carry the same signature over different content: a forgery by re-splitting, refused."""
        if self.signs_timestamp:
            return None
        digest = hashlib.sha256(request.body).hexdigest()
        return digest, digest

    def signed_time(self, request: RawRequest) -> datetime | None:
        """When the provider says it sent this, from inside the signed bytes (None when nothing signed says)."""
        return None

    # ---- shared
    def verify(self, request: RawRequest, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.check_signature(request, now)
        key = self.replay_key(request)
        if key is not None:
            self.replay.check_and_remember(key, now)

    def delivery_keys(self, request: RawRequest) -> tuple[str | None, str]:
        """The two dedupe keys of an authenticated delivery: the provider's own message id (`dedupe_key`; None
        when the provider sends none) and a digest of the signed bytes (the exact body: a byte-identical replay
        is caught even when the provider names no id)."""
        try:
            message = self.dedupe_key(request)
        except (PayloadError, SignatureError):
            message = None
        return message, f"{self.name}:sha256:{hashlib.sha256(request.body).hexdigest()}"

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


class SecretInbound(InboundBase):
    """A connector authenticated by one shared secret (an HMAC over the raw bytes) with a signed timestamp: the
    constructor, the signature header lookup and the timestamp parsing every such provider repeats.

    Subclasses name `secret_label` (for the error when the secret is missing), `signature_header` and
    `timestamp_header` (lower case), and compute the expected signature in `check_signature`."""

    secret_label = "a webhook secret"
    signature_header = ""
    timestamp_header = ""
    default_tolerance_seconds: float = 300

    def __init__(self, secret: str, tolerance_seconds: float | None = None, source: str | None = None,
                 replay: ReplayCache | None = None) -> None:
        if not secret:
            raise ValueError(f"{self.secret_label} is required")
        super().__init__(replay)
        self.secret = secret
        self.tolerance = self.default_tolerance_seconds if tolerance_seconds is None else tolerance_seconds
        self.source = source or self.name

    def signature_value(self, request: RawRequest) -> str | None:
        return header(request.headers, self.signature_header)

    def given_signature(self, request: RawRequest) -> str:
        """The signature header, required to be present and non-empty."""
        given = self.signature_value(request)
        require(bool(given), f"missing {self.signature_header}")
        return given or ""

    def signed_timestamp(self, request: RawRequest) -> tuple[str, int]:
        """The timestamp header exactly as sent (it is part of the signed message) and its integer value."""
        text = header(request.headers, self.timestamp_header)
        return text or "", parse_int(text, self.timestamp_header)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _reject_constant(name: str) -> Any:
    raise PayloadError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise PayloadError("number out of range")
    return value


def _has_lone_surrogate(value: Any) -> bool:
    """Iterative (a signed body may nest as deep as the parser allows; recursion here would overflow)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and _LONE_SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def load_json(body: bytes | str, what: str = "body") -> Any:
    """Parse an (authenticated) webhook body, or a JSON field inside one; every way it can be malformed is a
    PayloadError (-> 4xx), never a 500: invalid UTF-8, invalid JSON, nesting deeper than the parser's recursion
    limit, NaN/Infinity or an overflowing float, an integer past Python's digit limit, and a JSON-escaped lone
    surrogate ("\\ud800"), which no UTF-8 encoder (a log line, a JSON response, a Temporal payload) can write."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except PayloadError as exc:
        raise PayloadError(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        raise PayloadError(f"{what} is nested too deeply") from None
    except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError, int digit limit
        raise PayloadError(f"{what} is not JSON") from exc
    if ("\\u" in text or isinstance(body, str)) and _has_lone_surrogate(value):
        raise PayloadError(f"{what} holds an unpaired UTF-16 surrogate escape")
    return value


def dicts_in(value: Any) -> list[dict[str, Any]]:
    """The objects in what should be a JSON array; anything else (a number, a string, an object) holds none."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def number_in(value: Any, low: float, high: float) -> float | None:
    """A JSON number within [low, high] as a float; None for anything else (bools, strings, 10**400, which
    float() cannot even convert)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        return None
    return float(value)


def dict_at(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The object under `key`, or an empty one when it is absent or not an object (an optional nested part)."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def as_dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{what} is not an object")
    return value


# Provider times outside this window are malformed: dates near datetime's limits overflow as soon as anything
# adds a duration to them (an appointment's end, a policy deadline).
EARLIEST_YEAR, LATEST_YEAR = 1900, 2200


def parse_dt(value: Any, what: str = "timestamp") -> datetime:
    """ISO-8601 (with Z), unix seconds or unix milliseconds -> aware UTC datetime."""
    if isinstance(value, bool) or value is None or value == "":
        raise PayloadError(f"missing {what}")
    if isinstance(value, int | float):
        try:
            seconds = value / 1000 if value > 10_000_000_000 else value
            at = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError) as exc:  # out of datetime's range, or NaN
            raise PayloadError(f"{what} out of range") from exc
    elif isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            return parse_dt(int(text) if len(text) <= 20 else float("inf"), what)
        try:
            at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise PayloadError(f"malformed {what}") from exc
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
    else:
        raise PayloadError(f"malformed {what}")
    if not EARLIEST_YEAR <= at.year <= LATEST_YEAR:
        raise PayloadError(f"{what} out of range")
    return at


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
