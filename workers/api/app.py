"""The HTTP API: signed webhooks in, reviewer decisions, cases, self-serve booking, the waitlist, the dashboard
and health. `create_app` is the factory; one router per resource lives in `workers/api/routes/`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from temporalio.client import Client

from workers.api.deps import AppState
from workers.api.errors import install_error_handlers
from workers.api.routes import booking, cases, dashboard, inbox, ops, reviews, waitlist, webhooks
from workers.dependencies import Dependencies, build_dependencies
from workers.logging import configure_logging
from workers.settings import Settings, get_settings
from workers.temporal.client import connect

DESCRIPTION = ("Recover missed appointments: signed webhooks start durable cases; reviewers decide the unclear "
               "ones. Reviewer and admin endpoints need `Authorization: Bearer <token>`.")


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

    app = FastAPI(title="noshow-recovery", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.noshow = AppState(settings, deps or build_dependencies(settings), client)
    for module in (ops, webhooks, cases, reviews, booking, waitlist, inbox):
        app.include_router(module.router)
    app.include_router(dashboard.router_for(app))
    install_error_handlers(app)
    return app


def main() -> None:
    settings = get_settings()
    configure_logging(settings)
    uvicorn.run(create_app(settings), host=settings.api.host, port=settings.api.port, log_level="warning")


if __name__ == "__main__":
    main()
