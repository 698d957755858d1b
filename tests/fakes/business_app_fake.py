"""A fake of the business's own app taking the engine's signed webhooks: it verifies each delivery with the
official `standardwebhooks` library (signature and timestamp tolerance) and applies each `webhook-id` once, as
the Standard Webhooks specification asks of receivers."""

from __future__ import annotations

import re
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest


class BusinessAppFake(FakeServer):
    def __init__(self, secret: str) -> None:
        self.webhook = Webhook(secret)
        self.applied: dict[str, Any] = {}  # webhook-id -> the verified payload
        self.refused = 0
        self.probes = 0  # verified `noshow.probe` deliveries: answered, never applied
        super().__init__()

    def setup_routes(self) -> None:
        self.route("POST", r"/hooks/noshow", self._deliver)

    @property
    def url(self) -> str:
        return f"{self.base_url}/hooks/noshow"

    def _deliver(self, req: RecordedRequest, match: re.Match[str]) -> FakeResponse:
        try:
            payload = self.webhook.verify(req.body, req.headers)
        except WebhookVerificationError:
            self.refused += 1
            return FakeResponse(401, {"error": "bad signature"})
        if payload.get("type") == "noshow.probe":
            self.probes += 1
            return FakeResponse(204)
        self.applied.setdefault(req.headers["webhook-id"], payload)
        return FakeResponse(204)
