"""Freshdesk webhooks sent by an automation rule's "Trigger webhook" action
(https://support.freshdesk.com/support/solutions/articles/132589-using-webhooks-in-automation-rules).

Authentication: Freshdesk signs nothing. The rule's webhook can carry custom headers and a "Requires
authentication" username / password; the engine accepts either a shared token in a custom header
(NOSHOW_FRESHDESK_WEBHOOK_HEADER, default `X-Noshow-Token`, equal to NOSHOW_FRESHDESK_WEBHOOK_TOKEN) or HTTP
Basic credentials equal to NOSHOW_FRESHDESK_WEBHOOK_USER / _PASSWORD, each compared in constant time before
the body is read. Nothing signed carries a time (`signs_timestamp = False`): a captured request replays only as a
duplicate. Freshdesk retries a failed webhook 5, 30 and 60 minutes later
(https://supportsandbox.freshdesk.com/support/solutions/articles/11000000028141-receiving-webhook-failure-emails):
the dedupe key is the ticket id, its `updated_at` and the reason value.

Body: the rule's "advanced" JSON content, which the admin pastes (docs/connectors.md has the template):
`{"ticket_id": "{{ticket.id}}", "status": "{{ticket.status}}", "appointment_status": "{{ticket.cf_reason}}",
"requester_id": "{{ticket.requester.id}}", "appointment_id": "{{ticket.cf_appointment_id}}",
"appointment_start": "{{ticket.cf_appointment_time}}", "created_at": "{{ticket.created_at}}",
"updated_at": "{{ticket.updated_at}}"}`. The reason value maps onto an event through
`connectors/helpdesk/tickets.py`: "Canceled appointment" is a cancellation, which starts the reschedule
playbook. UNVERIFIED: the placeholder names and the format the time placeholders render in (ISO 8601 is
required here; a ticket without a readable time is refused as a 400 naming the template).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from datetime import datetime

from connectors.contract import RawRequest, SignatureError, WebhookResult
from connectors.helpdesk.tickets import StatusMap, hook_result, hook_view, normalise
from connectors.inbound import InboundBase, as_dict, clip, load_json
from connectors.signatures import ReplayCache, header

DEFAULT_HEADER = "X-Noshow-Token"


def basic_pair(value: str | None) -> tuple[bytes, bytes] | None:
    scheme, _, encoded = (value or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
    except (binascii.Error, ValueError):
        return None
    return (user, password) if sep else None


class FreshdeskInbound(InboundBase):
    name = "freshdesk"
    signs_timestamp = False

    def __init__(self, token: str | None = None, user: str | None = None, password: str | None = None,
                 header_name: str = DEFAULT_HEADER, source: str = "freshdesk",
                 statuses: Mapping[str, str] | None = None, replay: ReplayCache | None = None) -> None:
        if not token and not (user and password):
            raise ValueError("a Freshdesk webhook token, or a webhook user and password, is required")
        super().__init__(replay)
        self.token = token.encode() if token else None
        self.pair = (user.encode(), password.encode()) if user and password else None
        self.header_name, self.source = header_name.lower(), source
        self.statuses = StatusMap(statuses)

    def signature_value(self, request: RawRequest) -> str | None:
        return header(request.headers, self.header_name) or header(request.headers, "authorization")

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        given = header(request.headers, self.header_name)
        if self.token is not None and given:
            if not hmac.compare_digest(given.strip().encode(), self.token):
                raise SignatureError(f"bad {self.header_name}")
            return
        pair = basic_pair(header(request.headers, "authorization")) if self.pair is not None else None
        if self.pair is None or pair is None:
            raise SignatureError(f"missing {self.header_name}" if self.token is not None else
                                 "missing HTTP Basic credentials")
        same_user = hmac.compare_digest(pair[0], self.pair[0])
        same_password = hmac.compare_digest(pair[1], self.pair[1])
        if not (same_user and same_password):
            raise SignatureError("bad HTTP Basic credentials")

    def dedupe_key(self, request: RawRequest) -> str | None:
        body = as_dict(load_json(request.body), "body")
        view = hook_view(body)
        when = clip(body.get("updated_at"), 40)
        return f"freshdesk:{view.ticket_id}:{when}:{normalise(view.status_value or '')[:60]}" if when else None

    def parse(self, request: RawRequest) -> WebhookResult:
        body = as_dict(load_json(request.body), "body")
        return hook_result(self.source, "Freshdesk", hook_view(body), self.statuses, self.dedupe_key(request),
                           request.body)
