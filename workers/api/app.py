"""The HTTP API: signed webhooks in, reviewer decisions, cases, self-serve booking, the waitlist, the dashboard
and health. `create_app` is the factory; one router per resource lives in `workers/api/routes/`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import Depends, FastAPI
from starlette.requests import ClientDisconnect
from temporalio.client import Client
from temporalio.service import RPCError

from workers.api import console
from workers.api.auth.guard import AuthGate, route_table
from workers.api.deps import AppState
from workers.api.docs import install_docs
from workers.api.errors import install_error_handlers
from workers.api.limits import BodyLimits, client_disconnected, limit_for
from workers.api.routes import (
    booking,
    cases,
    dashboard,
    inbox,
    login,
    ops,
    push,
    reviews,
    schemas,
    waitlist,
    webhooks,
)
from workers.api.temporal_gate import TemporalGate, temporal_required, temporal_rpc_failed
from workers.dependencies import Dependencies, build_dependencies
from workers.logging import configure_logging
from workers.observability.http_metrics import HttpMetrics, RequestMetrics, metrics_endpoint
from workers.production import refuse_unsafe_start
from workers.settings import Settings, get_settings
from workers.settings_errors import settings_or_exit
from workers.temporal.client import connect

DESCRIPTION = ("Recover missed appointments: signed webhooks start durable cases; reviewers decide the unclear "
               "ones.\n\nPeople's endpoints need `Authorization: Bearer <token>` or the browser session from `/login` "
               "(plus the session's `X-CSRF-Token` on unsafe requests), with at least the role each operation "
               "names: reviewer < owner < admin. A reviewer or owner sees only the programs it is scoped to; "
               "another program's case answers 404. Webhooks authenticate by the provider's signature instead.")


def create_app(settings: Settings | None = None, client: Client | None = None,
               deps: Dependencies | None = None) -> FastAPI:
    """The app for `settings`; `client` and `deps` are built when not given (Temporal is connected at start-up,
    so the API answers /health as degraded rather than failing while the server comes up)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        current: AppState = app.state.noshow
        if current.client is None:
            current.client = await connect(settings, wait_seconds=settings.temporal.connect_wait_seconds)
        gate: TemporalGate = app.state.temporal_gate
        with contextlib.suppress(Exception):  # parsed before the first delivery needs it; /ready reports a bad one
            await asyncio.to_thread(current.deps.policy)
        drainer = asyncio.create_task(current.handoff.drain_forever(
            current.cases_or_none, lambda: gate.is_up(current.client)))
        try:
            yield
        finally:
            drainer.cancel()
            await asyncio.gather(drainer, return_exceptions=True)
            await current.handoff.wait_idle()

    app = FastAPI(title="noshow-recovery", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.noshow = AppState(settings, deps or build_dependencies(settings), client)
    app.state.temporal_gate = TemporalGate(settings.api.temporal_wait_seconds)
    # these talk to Temporal while the caller waits: a fast 503 with Retry-After when it is unreachable
    # (webhooks are written down first and applied when Temporal answers: see workers/intake/handoff.py)
    needs_temporal = [m.router for m in (cases, reviews, booking, waitlist)]
    routers = [ops.router, schemas.router, webhooks.router, *needs_temporal, login.router, inbox.router, push.router,
               *console.routers(),
               dashboard.router_for(app)]
    for router in routers:
        app.include_router(router, dependencies=[Depends(temporal_required)] if router in needs_temporal else None)
    app.mount("/console/static", console.STATIC, name="console-static")
    install_docs(app)
    app.add_exception_handler(ClientDisconnect, client_disconnected)
    app.add_exception_handler(RPCError, temporal_rpc_failed)
    # every protected route authenticates from its headers before any body is read
    app.add_middleware(AuthGate, routes=route_table(routers))
    api = settings.api
    app.add_middleware(BodyLimits, read_seconds=api.body_read_seconds,
                       limit=lambda path: limit_for(path, api.max_body_bytes, api.max_json_body_bytes))
    install_error_handlers(app)  # its Content-Length guard runs first
    # outermost: every answer is counted, also those the guards above give
    app.state.http_metrics = HttpMetrics()
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    app.add_middleware(RequestMetrics, metrics=app.state.http_metrics,
                       routes=[route for route, _ in route_table(routers)])
    return app


def server_config(app: FastAPI, settings: Settings, port: int | None = None) -> uvicorn.Config:
    """How the API is served: idle keep-alive connections are closed after a few seconds, so held-open sockets
    cannot pile up (the body deadline and limits are the app's own middleware)."""
    return uvicorn.Config(app, host=settings.api.host, port=settings.api.port if port is None else port,
                          log_level="warning", timeout_keep_alive=settings.api.keep_alive_seconds)


def main() -> None:
    settings = settings_or_exit("API")
    refuse_unsafe_start(settings, "API")
    configure_logging(settings)
    uvicorn.Server(server_config(create_app(settings), settings)).run()


if __name__ == "__main__":
    main()
