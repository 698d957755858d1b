"""Zoho CRM notifications (the watch API) https://www.zoho.com/crm/developer/docs/api/v7/notifications/enable.html.

Zoho signs nothing: a notification echoes the `token` (at most 50 characters) and the `channel_id` the channel
was enabled with, "to ensure that the notification is from Zoho CRM". Both are compared in constant time with
the configured ones before anything else of the body is used; the channel this deployment opens
(`ZohoChannelKeeper` in connectors/zoho/source.py) also puts the token in the `notify_url` query, and when a
request carries that query it must match too (checked before the body is parsed). Neither token nor body carries
a signed time, so the intake remembers accepted deliveries long (`signs_timestamp = False`).

A notification names record ids only (`ids`, `operation`, `module`): a change to a meeting (module `Events`;
the prose calls it Meetings, so both names are accepted, UNVERIFIED which one is sent) asks for the `zoho`
source's reconciliation, which reads the changed and deleted meetings (connectors/zoho/source.py). Other
modules are listed as unknown types. UNVERIFIED: the `operation` values other than `insert`, and Zoho's retry
behaviour when the endpoint fails (the reconcile poll covers lost notifications).
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from connectors.contract import RawRequest, SignatureError, WebhookResult
from connectors.inbound import InboundBase, PayloadError, as_dict, digest, load_json
from connectors.signatures import ReplayCache

MEETING_MODULES = ("Events", "Meetings")


def _same(given: Any, expected: str) -> bool:
    return isinstance(given, str | int) and not isinstance(given, bool) and hmac.compare_digest(
        str(given).encode(), expected.encode())


class ZohoInbound(InboundBase):
    name = "zoho"
    signs_timestamp = False

    def __init__(self, channel_token: str, channel_id: int | str, source: str = "zoho",
                 replay: ReplayCache | None = None) -> None:
        if not channel_token:
            raise ValueError("a Zoho channel token is required")
        if len(channel_token) > 50:
            raise ValueError("a Zoho channel token has at most 50 characters")
        super().__init__(replay)
        self.token, self.channel_id, self.source = channel_token, str(channel_id), source

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        if "token" in request.query and not _same(request.query["token"], self.token):
            raise SignatureError("bad notify_url token")
        try:
            body = as_dict(load_json(request.body), "body")
        except PayloadError:
            raise SignatureError("unreadable notification") from None
        if not _same(body.get("token"), self.token):
            raise SignatureError("missing or bad channel token")
        if not _same(body.get("channel_id"), self.channel_id):
            raise SignatureError("notification for another channel")

    def dedupe_key(self, request: RawRequest) -> str | None:
        body = as_dict(load_json(request.body), "body")
        given = body.get("ids")
        ids = given if isinstance(given, list) else []
        return (f"zoho:{self.channel_id}:{str(body.get('server_time', ''))[:20]}:"
                f"{digest(body.get('module'), body.get('operation'), *sorted(str(i) for i in ids))}")

    def parse(self, request: RawRequest) -> WebhookResult:
        body = as_dict(load_json(request.body), "body")
        module, operation = body.get("module"), body.get("operation")
        if not isinstance(module, str) or not isinstance(operation, str):
            raise PayloadError("missing module or operation")
        result = WebhookResult(dedupe_key=self.dedupe_key(request))
        if module in MEETING_MODULES:
            result.sync_sources.append(self.source)
        else:
            result.unknown_types.append(f"{module}.{operation}"[:60])
        return result
