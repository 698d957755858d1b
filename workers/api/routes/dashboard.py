"""The reporting dashboard, its data and CSV export, read from the ledger."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from reporting.dashboard import dashboard_router


def router_for(app: FastAPI) -> APIRouter:
    # the ledger is read through the app state, so a test can swap the dependencies after start-up
    return dashboard_router(lambda: app.state.noshow.deps.ledger)
