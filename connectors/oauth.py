"""OAuth bearer tokens for the httpx JSON clients (Google Calendar, Microsoft Graph).

A token is either a string (a static access token from the environment: fine for tests and short trials) or a
callable that returns a fresh one on every request (the caller's refresh logic). The token goes only into the
`Authorization` header: never into a URL, a log line or an exception message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from connectors.http import JsonApi

TokenSource = str | Callable[[], str]


def current_token(token: TokenSource) -> str:
    """The access token to send now; a callable is asked each time so it can refresh before expiry."""
    return token() if callable(token) else token


def bearer_header(token: TokenSource) -> dict[str, str]:
    return {"Authorization": f"Bearer {current_token(token)}"}


class BearerJsonApi(JsonApi):
    """A JsonApi that sends `Authorization: Bearer <token>` on every request, reading the token per request.

    Headers the caller passes win over the bearer header (a provider call that needs another scheme can say so).
    """

    def __init__(self, access_token: TokenSource, base_url: str, timeout: float = 10.0,
                 http: httpx.Client | None = None) -> None:
        super().__init__(base_url, {}, timeout, http)
        self._token = access_token

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        kwargs["headers"] = {**bearer_header(self._token), **(kwargs.get("headers") or {})}
        return super().request(method, path, **kwargs)
