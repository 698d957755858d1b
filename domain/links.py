"""Signed, expiring self-serve booking links: the token carries the case, the offer attempt and the expiry."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime


class LinkError(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_link(secret: str, case_id: str, attempt: int, expires_at: datetime) -> str:
    payload = f"{case_id}|{attempt}|{int(expires_at.timestamp())}".encode()
    sig = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:18]
    return f"{_b64(payload)}.{_b64(sig)}"


class LinkExpired(LinkError):
    pass


def verify_link(secret: str, token: str, now: datetime | None = None) -> tuple[str, int]:
    """(case id, offer attempt) for a valid, unexpired token; LinkError otherwise (LinkExpired once expired)."""
    case_id, attempt, expires = read_link(secret, token)
    if (now or datetime.now(UTC)) >= expires:
        raise LinkExpired("this link has expired")
    return case_id, attempt


def read_link(secret: str, token: str) -> tuple[str, int, datetime]:
    """(case id, offer attempt, expiry) of a genuine token, expired or not; LinkError when forged or malformed."""
    try:
        payload_text, sig_text = token.split(".", 1)
        payload, sig = _unb64(payload_text), _unb64(sig_text)
    except (ValueError, TypeError):
        raise LinkError("malformed link") from None
    expected = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:18]
    if not hmac.compare_digest(sig, expected):
        raise LinkError("invalid link")
    try:
        case_id, attempt, exp = payload.decode().split("|")
        expires = datetime.fromtimestamp(int(exp), UTC)
        return case_id, int(attempt), expires
    except ValueError:
        raise LinkError("malformed link") from None
