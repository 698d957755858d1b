"""Password guessing is slowed per account name: after `limit` refused sign-ins within `window`, that name is
refused (429) until the oldest failure leaves the window, whatever the password. Kept in memory per process;
names are held only as digests."""

from __future__ import annotations

import hashlib
import time
from collections import deque


class SignInThrottle:
    def __init__(self, limit: int = 10, window_seconds: float = 900) -> None:
        self.limit = limit
        self.window = window_seconds
        self.failures: dict[str, deque[float]] = {}

    @staticmethod
    def key(username: str) -> str:
        return hashlib.sha256(username.strip().lower().encode()).hexdigest()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self.failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, username: str) -> int | None:
        """Seconds until this name may try again, or None when it may try now."""
        now = time.monotonic()
        times = self._recent(self.key(username), now)
        if len(times) < self.limit:
            return None
        return max(1, int(times[0] + self.window - now) + 1)

    def failed(self, username: str) -> None:
        if len(self.failures) > 100_000:  # bounded memory under a spray of distinct names
            self.failures.clear()
        self._recent(self.key(username), time.monotonic()).append(time.monotonic())

    def succeeded(self, username: str) -> None:
        self.failures.pop(self.key(username), None)
