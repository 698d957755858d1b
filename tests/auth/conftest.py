"""An app with no Temporal for the sign-in tests: authentication and sign-in never need a case."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from pydantic import SecretStr

from tests.engine.conftest import settings_for
from tests.helpers import fast_policy
from workers.api.app import create_app
from workers.dependencies import build_dependencies
from workers.settings import Settings

TOKENS = "tok-default=reviewer-default:default,tok-dental=reviewer-dental:dental"
OWNER_TOKENS = "tok-owner=owner-default:default"


def auth_settings(tmp: Path, **sections: Any) -> Settings:
    s = settings_for(tmp, "auth-only", fast_policy())
    s.auth = s.auth.model_copy(update={"reviewer_tokens": SecretStr(TOKENS), "owner_tokens": SecretStr(OWNER_TOKENS)})
    for name, section in sections.items():
        setattr(s, name, section)
    return s


@pytest_asyncio.fixture
async def make_app(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    clients: list[httpx.AsyncClient] = []

    def build(settings: Settings | None = None, base_url: str = "http://test") -> tuple[FastAPI, httpx.AsyncClient]:
        s = settings or auth_settings(tmp_path)
        app = create_app(s, client=None, deps=build_dependencies(s))
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                 base_url=base_url)
        clients.append(http)
        return app, http

    yield build
    for c in clients:
        await c.aclose()
