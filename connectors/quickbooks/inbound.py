"""QuickBooks Online webhooks (https://developer.intuit.com/app/developer/qbo/docs/develop/webhooks).

Signature: header `intuit-signature` = base64 HMAC-SHA256(the app's verifier token, raw body), the scheme of
Intuit's SDKs (`WebhooksService.verifyPayload`); nothing signed carries a time (`signs_timestamp = False`), so
a captured request can only be replayed as a duplicate.

Bodies: the legacy `{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [{"name", "id",
"operation", "lastUpdated"}]}}]}`, or, once the app is switched to CloudEvents, a JSON array of
`{"specversion", "id", "type": "qbo.invoice.voided.v1", "time", "intuitentityid", "intuitaccountid"}`
(https://blogs.intuit.com/2025/11/12/upcoming-change-to-webhooks-payload-structure/). Up to 100 events come
batched; events can arrive out of order and a failed delivery is retried (10 s, 20 s, 30 s, 5 min, ... then every
6 h) https://developer.intuit.com/app/developer/qbo/docs/develop/webhooks/best-practices.

A notification names the entity, not its content: an Invoice change of the configured company asks for the
QuickBooks reconciliation now (`sync_sources`), whose change data capture reads what changed from the
cursor on (Intuit's own advice). Other entities, and other companies, are listed as unknown types.
UNVERIFIED: the CloudEvents operation words (`voided`, `deleted`) beyond `updated` / `created` in Intuit's sample.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

from connectors.contract import RawRequest, WebhookResult
from connectors.inbound import InboundBase, PayloadError, as_dict, dict_at, dicts_in, digest, load_json
from connectors.signatures import ReplayCache, constant_time_equals, header, require

SIGNATURE_HEADER = "intuit-signature"
WATCHED = frozenset({"invoice"})


def entities_of(body: Any) -> list[tuple[str, str, str, str, str]]:
    """(realm id, entity name, entity id, operation, last updated) of each change, in either format."""
    out: list[tuple[str, str, str, str, str]] = []
    if isinstance(body, list):  # CloudEvents
        for event in dicts_in(body):
            kind = str(event.get("type") or "")
            parts = kind.split(".")
            if len(parts) < 3 or parts[0] != "qbo":
                raise PayloadError("CloudEvents type is not qbo.<entity>.<operation>.v1")
            out.append((str(event.get("intuitaccountid") or ""), parts[1], str(event.get("intuitentityid") or ""),
                        parts[2], str(event.get("time") or "")))
        return out
    notifications = as_dict(body, "body").get("eventNotifications")
    if not isinstance(notifications, list):
        raise PayloadError("missing eventNotifications")
    for note in dicts_in(notifications):
        realm = str(note.get("realmId") or "")
        for entity in dicts_in(dict_at(note, "dataChangeEvent").get("entities")):
            out.append((realm, str(entity.get("name") or ""), str(entity.get("id") or ""),
                        str(entity.get("operation") or ""), str(entity.get("lastUpdated") or "")))
    return out


class QuickBooksWebhook(InboundBase):
    name = "quickbooks"
    signs_timestamp = False

    def __init__(self, verifier_token: str, realm_id: str | None = None, source: str = "quickbooks",
                 replay: ReplayCache | None = None) -> None:
        if not verifier_token:
            raise ValueError("the QuickBooks webhook verifier token is required")
        super().__init__(replay)
        self.token, self.realm_id, self.source = verifier_token, realm_id, source

    def signature_value(self, request: RawRequest) -> str | None:
        return header(request.headers, SIGNATURE_HEADER)

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        given = self.signature_value(request)
        require(bool(given), f"missing {SIGNATURE_HEADER}")
        expected = base64.b64encode(hmac.new(self.token.encode(), request.body, hashlib.sha256).digest()).decode()
        require(constant_time_equals(expected, given), "signature mismatch")

    def dedupe_key(self, request: RawRequest) -> str | None:
        # Intuit names no delivery id in the legacy format: the changes themselves identify a delivery
        changes = entities_of(load_json(request.body))
        return f"quickbooks:{digest(*sorted('|'.join(c) for c in changes))}" if changes else None

    def parse(self, request: RawRequest) -> WebhookResult:
        changes = entities_of(load_json(request.body))
        result = WebhookResult(dedupe_key=self.dedupe_key(request))
        for realm, name, _entity_id, operation, _at in changes:
            if self.realm_id and realm != self.realm_id:
                result.unknown_types.append("other_company")
            elif name.lower() in WATCHED:
                if self.source not in result.sync_sources:
                    result.sync_sources.append(self.source)
            else:
                result.unknown_types.append(f"{name[:40]}.{operation[:20]}")
        return result
