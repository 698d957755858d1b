"""The HTTP API: signed webhooks in, reviewer decisions, cases, self-serve booking, the waitlist, the dashboard
and health. `create_app` is the factory; one router per resource lives in `workers/api/routes/`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from temporalio.client import Client

from workers.api import console
from workers.api.auth.guard import AuthGate, route_table
from workers.api.deps import AppState
from workers.api.docs import install_docs
from workers.api.errors import install_error_handlers
from workers.api.routes import booking, cases, dashboard, inbox, login, ops, reviews, waitlist, webhooks
from workers.dependencies import Dependencies, build_dependencies
from workers.logging import configure_logging
from workers.settings import Settings, get_settings
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
            current.client = await connect(settings, wait_seconds=60)
        yield

    app = FastAPI(title="noshow-recovery", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.noshow = AppState(settings, deps or build_dependencies(settings), client)
    routers = [m.router for m in (ops, webhooks, cases, reviews, booking, waitlist, login, inbox)]
    routers.extend(console.routers())
    routers.append(dashboard.router_for(app))
    for router in routers:
        app.include_router(router)
    app.mount("/console/static", console.STATIC, name="console-static")
    install_docs(app)
    # inside the Content-Length guard: every protected route authenticates before any body is read
    app.add_middleware(AuthGate, routes=route_table(routers))
    install_error_handlers(app)
    return app


def main() -> None:
    settings = get_settings()
    configure_logging(settings)
    uvicorn.run(create_app(settings), host=settings.api.host, port=settings.api.port, log_level="warning")


if __name__ == "__main__":
    main()
