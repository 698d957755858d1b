"""The browser console, served by the API: server-rendered pages (Jinja2) with htmx, served from this package;
no build step and nothing fetched from elsewhere. Pages are protected by the API's own caller dependencies."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

from workers.api.console import admin, case, inbox, owner, queue
from workers.api.console.views import HERE

STATIC = StaticFiles(directory=str(HERE / "static"))


def routers() -> list[APIRouter]:
    return [queue.router, case.router, inbox.router, owner.router, admin.router]
