"""Airtable webhook notifications (https://airtable.com/developers/web/api/webhooks-overview): a thin ping
`{"base": {"id"}, "webhook": {"id"}, "timestamp"}` that names no record, signed in `X-Airtable-Content-MAC` as
`hmac-sha256=` + the lowercase hex HMAC-SHA256 of the raw body under the base64-decoded `macSecretBase64`
returned when the webhook was created (the scheme pyairtable implements, `pyairtable.models.webhook`). The ping
asks for the `airtable` source's reconciliation, which lists the webhook's payloads from the stored cursor
(connectors/airtable/source.py). A ping for another base or webhook is refused.
UNVERIFIED: the prefix's case on Airtable's own page (compared case-insensitively), the notification retry
schedule. No timestamp is signed apart from the body's, and a replayed ping only asks for a sync, so staleness is
not checked; the intake remembers accepted pings long (`signs_timestamp = False`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import datetime

from connectors.contract import RawRequest, SignatureError, WebhookResult
from connectors.inbound import PayloadError, SecretInbound, as_dict, clip, dict_at, load_json
from connectors.signatures import ReplayCache, constant_time_equals

PREFIX = "hmac-sha256="


def content_mac(mac_secret_base64: str, body: bytes) -> str:
    key = base64.b64decode(mac_secret_base64, validate=True)
    return PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


class AirtableInbound(SecretInbound):
    name = "airtable"
    secret_label = "the webhook's macSecretBase64"
    signature_header = "x-airtable-content-mac"
    signs_timestamp = False

    def __init__(self, mac_secret_base64: str, base_id: str, webhook_id: str, source: str = "airtable",
                 replay: ReplayCache | None = None) -> None:
        super().__init__(mac_secret_base64, source=source, replay=replay)
        try:
            base64.b64decode(mac_secret_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the Airtable macSecretBase64 is not base64") from None
        self.base_id, self.webhook_id = base_id, webhook_id

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        given = self.given_signature(request)
        if not given[:len(PREFIX)].lower() == PREFIX:
            raise SignatureError("X-Airtable-Content-MAC is not an hmac-sha256 value")
        expected = content_mac(self.secret, request.body)
        if not constant_time_equals(expected, PREFIX + given[len(PREFIX):].lower()):
            raise SignatureError("bad X-Airtable-Content-MAC")

    def dedupe_key(self, request: RawRequest) -> str | None:
        body = as_dict(load_json(request.body), "body")
        return (f"airtable:{clip(dict_at(body, 'webhook').get('id'), 40)}:"
                f"{clip(body.get('timestamp'), 40)}")

    def parse(self, request: RawRequest) -> WebhookResult:
        body = as_dict(load_json(request.body), "body")
        base, hook = dict_at(body, "base").get("id"), dict_at(body, "webhook").get("id")
        if not isinstance(base, str) or not isinstance(hook, str):
            raise PayloadError("a notification names its base and webhook")
        result = WebhookResult(dedupe_key=self.dedupe_key(request))
        if (base, hook) == (self.base_id, self.webhook_id):
            result.sync_sources.append(self.source)
        else:
            result.unknown_types.append("notification.other_webhook")
        return result
