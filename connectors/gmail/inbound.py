"""Gmail reply detection: `users.watch` publishes mailbox changes to a Pub/Sub topic whose push subscription calls
`/webhooks/gmail` (https://developers.google.com/gmail/api/guides/push). The push is authenticated by the OIDC
token Pub/Sub attaches as `Authorization: Bearer <JWT>` when the subscription has `pushConfig.oidcToken`
(https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions): its RS256 signature is checked against
Google's published keys (NOSHOW_GMAIL_CERTS_URL, https://www.googleapis.com/oauth2/v3/certs), `iss` is
`https://accounts.google.com` (or `accounts.google.com`), `aud` is the configured audience, `email` the configured
service account with `email_verified`, `exp` in the future and `iat` not in it (one minute of clock skew).
Only then is the body read: the envelope `{"message": {"data": base64({"emailAddress", "historyId"}), "messageId",
"publishTime"}, "subscription"}`.
The push names only the mailbox's newest history id: the follow-up (connectors/gmail/replies.py) lists what was
added since the stored one. Dedupe key: the Pub/Sub `messageId`.
UNVERIFIED: the push envelope beyond Google's sample, and Pub/Sub's retry schedule.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from connectors.contract import RawRequest, SignatureError, WebhookResult
from connectors.inbound import InboundBase, PayloadError, as_dict, clip, dict_at, load_json
from connectors.signatures import ReplayCache, header

ISSUERS = ("https://accounts.google.com", "accounts.google.com")


class GoogleKeys:
    """Google's signing keys, fetched on first use and again at most every `ttl` seconds (or for an unknown key)."""

    def __init__(self, url: str, ttl: float = 3600.0, fetch: Callable[[str], dict[str, Any]] | None = None) -> None:
        self.url, self.ttl = url, ttl
        self.fetch = fetch or (lambda u: httpx.get(u, timeout=5.0).raise_for_status().json())
        self._keys: KeySet | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def get(self, refresh: bool = False) -> KeySet:
        with self._lock:
            stale = time.monotonic() - self._at > self.ttl
            if self._keys is None or stale or (refresh and time.monotonic() - self._at > 10):
                try:
                    self._keys = KeySet.import_key_set(self.fetch(self.url))  # type: ignore[arg-type]
                except (httpx.HTTPError, ValueError, JoseError) as exc:
                    if self._keys is None:
                        raise SignatureError(f"gmail push: Google's keys unavailable ({type(exc).__name__})") \
                            from None
                self._at = time.monotonic()
            assert self._keys is not None
            return self._keys


class GmailPushInbound(InboundBase):
    name = "gmail"
    signs_timestamp = True

    def __init__(self, audience: str, service_account: str, keys: GoogleKeys, replay: ReplayCache | None = None
                 ) -> None:
        if not audience or not service_account:
            raise ValueError("the Gmail push needs its OIDC audience and service account")
        super().__init__(replay)
        self.audience, self.service_account, self.keys = audience, service_account.lower(), keys

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        given = header(request.headers, "authorization") or ""
        if not given.startswith("Bearer ") or len(given) > 8192:
            raise SignatureError("missing bearer token")
        token = given[7:].strip()
        try:
            try:
                decoded = jwt.decode(token, self.keys.get(), algorithms=["RS256"])
            except JoseError:
                decoded = jwt.decode(token, self.keys.get(refresh=True), algorithms=["RS256"])
            jwt.JWTClaimsRegistry(
                now=int(now.timestamp()), leeway=60, iss={"essential": True, "values": list(ISSUERS)},
                aud={"essential": True, "value": self.audience},
                exp={"essential": True}, iat={"essential": True},
                email={"essential": True, "value": self.service_account},
                email_verified={"essential": True, "value": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError, TypeError):
            raise SignatureError("gmail push: the OIDC token is not Google's for this subscription") from None

    def signature_value(self, request: RawRequest) -> str | None:
        return None  # a new token is minted per delivery: the Pub/Sub message id identifies it

    def dedupe_key(self, request: RawRequest) -> str | None:
        message = dict_at(as_dict(load_json(request.body), "body"), "message")
        given = clip(message.get("messageId") or message.get("message_id"), 100)
        return f"gmail:{given}" if given else None

    def pushed(self, request: RawRequest) -> tuple[str, str]:
        """(mailbox address, its newest history id) from the push's `message.data`."""
        message = dict_at(as_dict(load_json(request.body), "body"), "message")
        try:
            data = as_dict(load_json(base64.b64decode(str(message.get("data") or ""), validate=True), "data"),
                           "data")
        except (binascii.Error, ValueError):
            raise PayloadError("message.data is not base64 JSON") from None
        mailbox, history = data.get("emailAddress"), data.get("historyId")
        if not isinstance(mailbox, str) or not str(history or "").isdigit():
            raise PayloadError("message.data names no mailbox and history id")
        return mailbox.lower(), str(history)

    def parse(self, request: RawRequest) -> WebhookResult:
        self.pushed(request)
        return WebhookResult(dedupe_key=self.dedupe_key(request))
