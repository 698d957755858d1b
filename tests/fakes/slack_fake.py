"""A fake Slack Web API: chat.postMessage and chat.update.

Slack answers almost everything with HTTP 200 and {"ok": false, "error": "..."}; rate limits are HTTP 429
with Retry-After and {"ok": false, "error": "ratelimited"}.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest

BOT_TOKEN = "xoxb-fake-bot-token"
CHANNEL = "C123ABC456"


class SlackFake(FakeServer):
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.channels: set[str] = {CHANNEL}
        self._ts = 1767603600_000100
        self._post_lock = threading.Lock()
        super().__init__()

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api"

    def rate_limit_next(self, retry_after: str = "7", body: Any = None, times: int = 1) -> None:
        super().rate_limit_next(retry_after, body or {"ok": False, "error": "ratelimited"}, times)

    def server_error_next(self, times: int = 1) -> None:
        self.fail_next(500, "Internal Server Error", times=times)

    def setup_routes(self) -> None:
        self.route("POST", r"/api/chat\.postMessage", self._post)
        self.route("POST", r"/api/chat\.update", self._update)
        self.route("POST", r"/api/auth\.test", self._auth_test)

    def _auth_test(self, req: RecordedRequest, match: Any) -> FakeResponse:
        """https://api.slack.com/methods/auth.test"""
        return self._auth(req) or FakeResponse(200, {"ok": True, "url": "https://acme.slack.com/", "team": "Acme",
                                                     "team_id": "T0001", "user_id": "U0BOT", "bot_id": "B0001"})

    def _auth(self, req: RecordedRequest) -> FakeResponse | None:
        auth = req.headers.get("authorization")
        if not auth:
            return FakeResponse(200, {"ok": False, "error": "not_authed"})
        if auth != f"Bearer {BOT_TOKEN}":
            return FakeResponse(200, {"ok": False, "error": "invalid_auth"})
        return None

    def _post(self, req: RecordedRequest, match: re.Match[str]) -> FakeResponse:
        if (denied := self._auth(req)) is not None:
            return denied
        body = req.json() or {}
        channel = body.get("channel")
        if channel not in self.channels:
            return FakeResponse(200, {"ok": False, "error": "channel_not_found"})
        if not body.get("text") and not body.get("blocks"):
            return FakeResponse(200, {"ok": False, "error": "no_text"})
        with self._post_lock:
            self._ts += 100
            ts = f"{self._ts // 1_000_000}.{self._ts % 1_000_000:06d}"
            self.posts.append(body)
        message = {"type": "message", "text": body.get("text"), "blocks": body.get("blocks"), "ts": ts,
                   "bot_id": "B123"}
        return FakeResponse(200, {"ok": True, "channel": channel, "ts": ts, "message": message})

    def _update(self, req: RecordedRequest, match: re.Match[str]) -> FakeResponse:
        if (denied := self._auth(req)) is not None:
            return denied
        body = req.json() or {}
        if body.get("channel") not in self.channels:
            return FakeResponse(200, {"ok": False, "error": "channel_not_found"})
        return FakeResponse(200, {"ok": True, "channel": body["channel"], "ts": body.get("ts"),
                                  "text": body.get("text")})
