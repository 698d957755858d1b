"""Web Push notifications (RFC 8030, https://www.rfc-editor.org/rfc/rfc8030) to every subscription a contact
has, through `pywebpush`: the payload encrypted with aes128gcm (RFC 8291) for the browser's keys, signed with
VAPID (RFC 8292: `Authorization: vapid t=<ES256 JWT>,k=<public key>`, `aud` the push service's origin).

- `TTL` is set (pywebpush sends 0 by default, which a push service may drop at once), `Urgency` from settings,
  and `Topic` a digest of the message id: a push service replaces an undelivered message of the same topic, so a
  retried send does not stack a second notification (RFC 8030 section 5.4).
- 404 / 410 mean the subscription is gone: it is deleted (RFC 8030 section 7.3). 429 and 5xx are retryable,
  other 4xx permanent for that subscription. The send succeeds when any subscription took it.
- The endpoint, the keys and the provider's error text never reach a log or an exception message.

**UNVERIFIED**: push services' exact answers beyond the RFC (201 on success is what the RFC shows; pywebpush
treats anything up to 202 as success).
"""

from __future__ import annotations

import hashlib
import json

import requests
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from connectors.contract import OutboundMessage, PermanentProviderError, RetryableProviderError, SendReceipt
from connectors.local.push_subscriptions import PushSubscriptions
from connectors.settings import secret
from connectors.webpush.settings import WebPushSettings
from domain.models import Channel

GONE = frozenset({404, 410})


def _vapid(key: str) -> Vapid02:
    text = key.strip()
    if text.startswith("-----BEGIN"):
        return Vapid02.from_pem(text.encode())
    return Vapid02.from_string(text)


class WebPushChannel:
    """contract.MessageChannel for Channel.push: `message.to` is the contact's opaque key."""

    def __init__(self, settings: WebPushSettings, subscriptions: PushSubscriptions) -> None:
        key = secret(settings.vapid_private_key) or ""
        if not key:
            raise ValueError("Web Push needs WEBPUSH_VAPID_PRIVATE_KEY")
        try:
            self.vapid = _vapid(key)
        except Exception:  # py_vapid raises assorted errors for a malformed key; never echo the key
            raise ValueError("WEBPUSH_VAPID_PRIVATE_KEY is not a VAPID private key (PEM or base64url)") from None
        if not settings.vapid_subject.startswith(("mailto:", "https:")):
            raise ValueError("WEBPUSH_VAPID_SUBJECT must be a mailto: or https: contact")
        self.settings = settings
        self.subscriptions = subscriptions

    def reaches(self, to: str) -> bool:
        return self.subscriptions.has_any(to)

    def lookup(self, message_id: str) -> SendReceipt | None:
        return None  # push services keep no readable record of what was sent: the Topic header coalesces a repeat

    def send(self, message: OutboundMessage) -> SendReceipt:
        if message.channel != Channel.push:
            raise PermanentProviderError(f"Web Push cannot send {message.channel.value}", code="channel")
        subscriptions = self.subscriptions.for_contact(message.to)
        if not subscriptions:
            raise PermanentProviderError("no push subscription for this contact", code="no_subscription")
        payload = json.dumps({"title": message.subject or "", "body": message.body, "tag": message.message_id,
                              "case_id": message.case_id})
        topic = hashlib.sha256(message.message_id.encode()).hexdigest()[:32]  # at most 32 base64url characters
        delivered: list[str] = []
        retryable: list[int] = []
        for sub_id, subscription in subscriptions:
            status = self._push(subscription.as_pywebpush(), payload, topic)
            if status is None:
                delivered.append(sub_id)
            elif status in GONE:
                self.subscriptions.remove(sub_id)
            elif status == 429 or status >= 500 or status == 0:
                retryable.append(status)
        if delivered:
            return SendReceipt(message_id=message.message_id, provider_message_id=f"push:{len(delivered)}",
                               status="sent")
        if retryable:
            raise RetryableProviderError(f"web push: every push service failed for now ({sorted(set(retryable))})")
        raise PermanentProviderError("web push: every subscription refused or is gone", code="push_refused")

    def _push(self, subscription: dict[str, object], payload: str, topic: str) -> int | None:
        """None when the push service took it, else its status (0: no answer)."""
        s = self.settings
        try:
            webpush(subscription, data=payload, vapid_private_key=self.vapid,
                    vapid_claims={"sub": s.vapid_subject}, ttl=s.ttl_seconds, timeout=s.timeout_seconds,
                    headers={"Urgency": s.urgency, "Topic": topic})
        except WebPushException as exc:
            return exc.response.status_code if exc.response is not None else 0
        except requests.exceptions.RequestException:
            return 0
        return None
