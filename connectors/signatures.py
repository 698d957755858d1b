"""Shared webhook-authentication helpers: constant-time HMAC checks, timestamp windows and a replay cache.

Every check runs on the raw request bytes, before any parsing, and compares with `hmac.compare_digest`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
from collections import OrderedDict
from datetime import datetime

from connectors.contract import SignatureError


def _b(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def hmac_sha256(key: str | bytes, message: str | bytes) -> bytes:
    return hmac.new(_b(key), _b(message), hashlib.sha256).digest()


def hmac_sha256_hex(key: str | bytes, message: str | bytes) -> str:
    return hmac.new(_b(key), _b(message), hashlib.sha256).hexdigest()


def hmac_sha256_b64(key: str | bytes, message: str | bytes) -> str:
    return base64.b64encode(hmac_sha256(key, message)).decode("ascii")


def constant_time_equals(expected: str | bytes, given: str | bytes | None) -> bool:
    """False for a missing value; never short-circuits on content."""
    if given is None:
        return False
    return hmac.compare_digest(_b(expected), _b(given))


def require(ok: bool, reason: str) -> None:
    if not ok:
        raise SignatureError(reason)


def header(headers: dict[str, str], name: str) -> str | None:
    """Case-insensitive header lookup (RawRequest promises lower-case names; be forgiving anyway)."""
    value = headers.get(name.lower())
    if value is not None:
        return value
    lname = name.lower()
    for key, val in headers.items():
        if key.lower() == lname:
            return val
    return None


# ASCII digits only (str.isdigit() also takes '²'); 18 digits hold any real timestamp, in seconds or
# milliseconds, while keeping arithmetic with floats from overflowing (10**400 would raise OverflowError)
_INT = re.compile(r"-?[0-9]{1,18}")


def parse_int(value: str | None, what: str) -> int:
    if value is None or not _INT.fullmatch(value.strip()):
        raise SignatureError(f"missing or malformed {what}")
    return int(value.strip())


def check_timestamp(ts_seconds: float, now: datetime, tolerance_seconds: float,
                    future_tolerance_seconds: float | None = None) -> None:
    """Reject a signed timestamp older than `tolerance_seconds` or further ahead than the future tolerance
    (defaults to the same window: the SDKs that only reject old timestamps let a pre-signed request live forever).
    """
    age = now.timestamp() - ts_seconds
    ahead = future_tolerance_seconds if future_tolerance_seconds is not None else tolerance_seconds
    if age > tolerance_seconds:
        raise SignatureError("stale timestamp")
    if -age > ahead:
        raise SignatureError("timestamp too far in the future")


def fingerprint(*parts: str | bytes | None) -> str:
    """A short stable digest for replay keys (never the raw signature or body)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(_b(part or ""))
        h.update(b"\x1f")
    return h.hexdigest()[:32]


class ReplayCache:
    """In-memory LRU of recently accepted deliveries, keyed by dedupe key (+ signature fingerprint), with a TTL.

    Per process: it stops a captured request from being replayed inside the signature window; the durable
    dedupe store in the API is what drops genuine provider retries. Time comes from the caller (`now`), so
    tests can freeze it. Thread-safe.
    """

    def __init__(self, ttl_seconds: float = 24 * 3600, max_entries: int = 100_000) -> None:
        if ttl_seconds <= 0 or max_entries <= 0:
            raise ValueError("ttl_seconds and max_entries must be positive")
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def _evict(self, now_ts: float) -> None:
        while self._seen:
            key, expires = next(iter(self._seen.items()))
            if expires > now_ts and len(self._seen) <= self.max_entries:
                break
            del self._seen[key]

    def seen(self, key: str, now: datetime) -> bool:
        now_ts = now.timestamp()
        with self._lock:
            expires = self._seen.get(key)
            return expires is not None and expires > now_ts

    def check_and_remember(self, key: str, now: datetime) -> None:
        """Raise SignatureError when `key` was accepted within the TTL; otherwise remember it."""
        now_ts = now.timestamp()
        with self._lock:
            expires = self._seen.get(key)
            if expires is not None and expires > now_ts:
                self._seen.move_to_end(key)
                raise SignatureError("replayed request")
            self._seen[key] = now_ts + self.ttl
            self._seen.move_to_end(key)
            self._evict(now_ts)

    def forget(self, key: str) -> None:
        """Call when handling failed after verification, so the provider's retry of the same request passes."""
        with self._lock:
            self._seen.pop(key, None)
