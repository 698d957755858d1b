"""`/docs` and `/redoc` render with no internet: every script, style and icon they load is served by the API
itself; and the document says how each route authenticates and what each webhook sends and signs."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from workers.api.docs import WEBHOOKS
from workers.providers import inbound


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_load_nothing_from_outside(make_app: Callable[..., Any], page: str) -> None:
    _, http = make_app()
    html = (await http.get(page)).text
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html) + re.findall(r"""url:\s*['"]([^'"]+)""", html)
    assert refs, html[:300]
    assert not re.search(r"https?://|//cdn|fonts\.googleapis", html), "a page that needs the internet"
    for ref in refs:
        r = await http.get(ref)
        assert r.status_code == 200 and len(r.content) > 100, ref
    scripts = re.findall(r"""<script src=["']([^"']+)""", html)
    assert scripts and all(s.startswith("/docs-static/") for s in scripts)


async def test_the_document_names_security_schemes_and_each_webhook_scheme(make_app: Callable[..., Any]) -> None:
    app, _ = make_app()
    spec = app.openapi()
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert spec["components"]["securitySchemes"]["session"]["in"] == "cookie"
    hook = spec["paths"]["/webhooks/{provider}"]["post"]
    assert hook["security"] == []
    schemes = hook["x-signature-schemes"]
    # every provider the engine can receive from (each `add("<name>", ...)` in the inbound registry)
    registry = Path(inbound.__file__).read_text()
    names = set(re.findall(r'^\s*add\("([a-z_]+)"', registry, re.M))
    assert len(names) >= 10 and names <= set(schemes), names - set(schemes)
    documented = {p["name"] for p in hook["parameters"] if p["in"] == "header"}
    for name, (headers, scheme, media, body) in WEBHOOKS.items():
        assert set(headers) <= documented and scheme and body, name
        assert media in hook["requestBody"]["content"], name
        assert f"`{name}`" in hook["description"]
