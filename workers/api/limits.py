"""Body limits and a body deadline on every route, enforced while the body streams in, before anything buffers it.

A route's handler (or FastAPI's body parsing) reads the body through `receive`; this middleware counts the bytes of
each `http.request` message and raises 413 the moment the route's limit is passed, so a 300 MB body costs at most
one chunk past the limit, whoever sent it. A declared Content-Length over the limit is refused before the app runs.
A body that has not arrived in full within the deadline gets 408 (a slow-drip client cannot hold a worker slot);
idle keep-alive connections are closed by the server (`timeout_keep_alive`). A client that goes away mid-request
is a debug line: nobody is left to read an answer, and nothing about it is an error of ours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog
from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger(__name__)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"body larger than {limit} bytes")


class BodyTimeout(HTTPException):
    def __init__(self) -> None:
        super().__init__(408, "request body not received in time")


def limit_for(path: str, webhook_limit: int, json_limit: int) -> int:
    """Signed webhooks carry provider payloads (batched events); everything else is a small JSON or form body."""
    return webhook_limit if path.startswith("/webhooks/") else json_limit


class BodyLimits:
    """Pure ASGI middleware: per-route byte limit and read deadline on the request body."""

    def __init__(self, app: ASGIApp, limit: Callable[[str], int], read_seconds: float) -> None:
        self.app = app
        self.limit = limit
        self.read_seconds = read_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope.get("path", ""))
        for key, value in scope.get("headers", ()):
            # ContentLengthGuard has already refused a malformed or conflicting value
            if key.lower() == b"content-length" and value.isdigit() and int(value) > limit:
                await JSONResponse({"detail": f"body larger than {limit} bytes"}, status_code=413)(
                    scope, receive, send)
                return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.read_seconds
        received = 0
        complete = False

        async def limited_receive() -> Message:
            nonlocal received, complete
            if complete:  # after the body only a disconnect can come: no deadline on listening for it
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.001))
            except TimeoutError:
                raise BodyTimeout() from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
                complete = not message.get("more_body", False)
            return message

        await self.app(scope, limited_receive, send)


async def client_disconnected(request: Request, exc: Exception) -> Response:
    """Nobody is listening any more: note it quietly and answer into the void."""
    log.debug("client_disconnected", path=request.url.path)
    return Response(status_code=400)
