"""Drive push notifications for the sheet (`files.watch` on the spreadsheet's file id,
https://developers.google.com/drive/api/guides/push): a POST without a body whose `X-Goog-Channel-Token` is the
`token` the channel was opened with (compared in constant time with NOSHOW_SHEETS_CHANNEL_TOKEN; Google signs
nothing). A notification only says the file changed: it asks for the `sheets` source's reconciliation, which
reads the sheet and diffs its rows. The first message of a channel (`X-Goog-Resource-State: sync`) is acked.
Replays are stopped on (channel id, message number).
UNVERIFIED: the full notification header table and state values (`sync`, `update`, `change`, ...) and the
longest channel lifetime for files; channels do not renew themselves, so whoever opened one re-opens it before
its `expiration` (the reconcile poll covers a lapsed channel).
"""

from __future__ import annotations

from datetime import datetime

from connectors.contract import RawRequest, SignatureError, WebhookResult
from connectors.inbound import InboundBase, clip
from connectors.signatures import ReplayCache, constant_time_equals, header


class SheetsDriveInbound(InboundBase):
    name = "sheets"
    signs_timestamp = False

    def __init__(self, channel_token: str, source: str = "sheets", replay: ReplayCache | None = None) -> None:
        if not channel_token:
            raise ValueError("a Drive channel token is required")
        super().__init__(replay)
        self.token, self.source = channel_token, source

    def check_signature(self, request: RawRequest, now: datetime) -> None:
        given = header(request.headers, "x-goog-channel-token") or ""
        if not given or not constant_time_equals(self.token, given):
            raise SignatureError("missing or bad X-Goog-Channel-Token")
        if not header(request.headers, "x-goog-channel-id"):
            raise SignatureError("missing X-Goog-Channel-ID")

    def signature_value(self, request: RawRequest) -> str | None:
        return header(request.headers, "x-goog-channel-token")

    def dedupe_key(self, request: RawRequest) -> str | None:
        channel = clip(header(request.headers, "x-goog-channel-id"), 100) or ""
        number = clip(header(request.headers, "x-goog-message-number"), 20) or ""
        return f"sheets:{channel}:{number}" if number else None

    def parse(self, request: RawRequest) -> WebhookResult:
        result = WebhookResult(dedupe_key=self.dedupe_key(request))
        if (header(request.headers, "x-goog-resource-state") or "").lower() != "sync":
            result.sync_sources.append(self.source)
        return result
