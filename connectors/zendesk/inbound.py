"""Zendesk webhooks connected to a trigger (https://developer.zendesk.com/documentation/webhooks/creating-and-monitoring-webhooks/).

Signature (https://developer.zendesk.com/documentation/webhooks/verifying/): `X-Zendesk-Webhook-Signature` is
base64(HMAC-SHA256(signing secret, `X-Zendesk-Webhook-Signature-Timestamp` + raw body)), the secret used as the
string it is (not base64-decoded), compared in constant time before the body is read. Zendesk prescribes no
tolerance window: the timestamp (ISO 8601 UTC) must be within NOSHOW_ZENDESK_TOLERANCE_SECONDS (default 300)
of now, either way. A body-less request signs the timestamp alone.

Body: a trigger-connected webhook sends the JSON the trigger's "Notify active webhook" action defines, with
placeholders (docs/connectors.md gives the template to paste):
`{"ticket_id": "{{ticket.id}}", "appointment_status": "{{ticket.ticket_field_<status field id>}}",
"requester_id": "{{ticket.requester.id}}", "assignee_id": "{{ticket.assignee.id}}",
"appointment_id": "{{ticket.ticket_field_<appointment field id>}}", "appointment_start":
"{{ticket.ticket_field_<time field id>}}", "created_at": "{{ticket.created_at_with_timestamp}}", "updated_at":
"{{ticket.updated_at_with_timestamp}}"}`; only `ticket_id`, `appointment_status` and one time are needed.
The status value maps onto an event through `connectors/helpdesk/tickets.py` (`StatusMap`). Zendesk may invoke a
webhook more than once: the dedupe key is the ticket id, its `updated_at` and the status value. Event-type
webhooks (`"type": "zen:event-type:..."`) are listed as unknown types: the trigger is the supported path.
UNVERIFIED: the placeholder names (Zendesk's placeholder reference is not quoted here), the retry policy, and
the timestamp's exact format beyond ISO 8601.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from connectors.contract import RawRequest, SignatureError, WebhookResult
from connectors.helpdesk.tickets import StatusMap, hook_result, hook_view, normalise
from connectors.inbound import SecretInbound, as_dict, clip, load_json, opt_dt
from connectors.signatures import ReplayCache, check_timestamp, constant_time_equals, header, hmac_sha256_b64, require


class ZendeskInbound(SecretInbound):
    name = "zendesk"
    secret_label = "a Zendesk webhook signing secret"
    signature_header = "x-zendesk-webhook-signature"
    timestamp_header = "x-zendesk-webhook-signature-timestamp"

    def __init__(self, secret: str, tolerance_seconds: float | None = None, source: str | None = None,
                 statuses: Mapping[str, str] | None = None, replay: ReplayCache | None = None) -> None:
        super().__init__(secret, tolerance_seconds, source, replay)
        self.statuses = StatusMap(statuses)

    def signed_time(self, request: RawRequest) -> datetime | None:
        return opt_dt(header(request.headers, self.timestamp_header))

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        given = self.given_signature(request)
        stamp = header(request.headers, self.timestamp_header) or ""
        at = opt_dt(stamp) if stamp and not stamp.strip().isdigit() else None
        require(at is not None, f"missing or malformed {self.timestamp_header}")
        if not constant_time_equals(hmac_sha256_b64(self.secret, stamp.encode() + request.body), given.strip()):
            raise SignatureError("bad signature")
        check_timestamp(at.timestamp() if at else 0.0, now, self.tolerance)

    def dedupe_key(self, request: RawRequest) -> str | None:
        body = as_dict(load_json(request.body), "body")
        if str(body.get("type") or "").startswith("zen:event-type:"):
            given = clip(body.get("id"), 100)
            return f"zendesk:event:{given}" if given else None
        view, when = hook_view(body), clip(body.get("updated_at"), 40)
        return f"zendesk:{view.ticket_id}:{when}:{normalise(view.status_value or '')[:60]}" if when else None

    def parse(self, request: RawRequest) -> WebhookResult:
        body = as_dict(load_json(request.body), "body")
        kind = str(body.get("type") or "")
        if kind.startswith("zen:event-type:"):
            return WebhookResult(dedupe_key=self.dedupe_key(request), unknown_types=[kind[:60]])
        return hook_result(self.source, "Zendesk", hook_view(body), self.statuses, self.dedupe_key(request),
                           request.body)
