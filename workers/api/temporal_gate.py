"""Routes that need Temporal answer 503 with `Retry-After` within about a second when it is unreachable.

Without this a hung Temporal frontend held each request for the client's own retry budget (about 20 s) and then
answered a bare 500. The gate asks the server's health service with a short deadline and remembers the answer
briefly, so a burst during an outage is refused at once instead of queueing probes; a Temporal RPC that still fails
inside a route is mapped to the same 503.
"""

from __future__ import annotations

import asyncio

import structlog
from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

log = structlog.get_logger(__name__)

RETRY_AFTER_SECONDS = 5
REMEMBER_UP = 2.0  # seconds a successful probe vouches for the server
REMEMBER_DOWN = 1.0

_UNAVAILABLE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED}


def unavailable() -> HTTPException:
    return HTTPException(503, "Temporal is not reachable; retry shortly",
                         headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class TemporalGate:
    def __init__(self, wait_seconds: float) -> None:
        self.wait_seconds = wait_seconds
        self._checked_at = -1e9
        self._up = False
        self._lock = asyncio.Lock()

    async def require(self, client: Client | None) -> None:
        if client is None:
            return  # not connected yet: the route's own state answers 503 once it needs the client
        loop = asyncio.get_running_loop()
        if loop.time() - self._checked_at < (REMEMBER_UP if self._up else REMEMBER_DOWN):
            if not self._up:
                raise unavailable()
            return
        async with self._lock:  # one probe at a time; the others read its answer
            if loop.time() - self._checked_at >= (REMEMBER_UP if self._up else REMEMBER_DOWN):
                self._up = await self._probe(client)
                self._checked_at = loop.time()
        if not self._up:
            raise unavailable()

    async def is_up(self, client: Client | None) -> bool:
        """`require` as a yes or no, for callers with somewhere else to put the work (the webhook hand-off)."""
        if client is None:
            return False
        try:
            await self.require(client)
        except HTTPException:
            return False
        return True

    def mark_down(self) -> None:
        self._up = False
        self._checked_at = asyncio.get_running_loop().time()

    async def _probe(self, client: Client) -> bool:
        try:
            await asyncio.wait_for(client.service_client.check_health(), self.wait_seconds)
            return True
        except Exception as exc:  # a timeout, a refused connection, an RPC error: all mean "not now"
            log.warning("temporal_unreachable", error=type(exc).__name__)
            return False


async def temporal_required(request: Request) -> None:
    """Router dependency for routes that talk to Temporal synchronously."""
    st = request.app.state.noshow
    await request.app.state.temporal_gate.require(st.client)


async def temporal_rpc_failed(request: Request, exc: Exception) -> Response:
    if isinstance(exc, RPCError) and exc.status in _UNAVAILABLE:
        request.app.state.temporal_gate.mark_down()
        log.warning("temporal_rpc_unavailable", path=request.url.path, status=exc.status.name)
        return JSONResponse({"detail": "Temporal is not reachable; retry shortly"}, status_code=503,
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    log.error("temporal_rpc_failed", path=request.url.path, status=getattr(exc.status, "name", "unknown")
              if isinstance(exc, RPCError) else "unknown")
    return JSONResponse({"detail": "internal error"}, status_code=500)
