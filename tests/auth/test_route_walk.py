"""Every operation in the OpenAPI document refuses an anonymous request, except the few that are public on
purpose (signed webhooks and a provider's URL validation ping, health, the signed self-serve booking link, the
sign-in pages); and it refuses it from the headers alone: a malformed body with no credentials gets 401, never
400/422."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

# authenticated otherwise: by the provider's signature, the link's signature, or not at all (health, sign-in)
PUBLIC = {
    "POST /webhooks/{provider}", "GET /webhooks/{provider}", "GET /health", "GET /ready", "GET /book/{token}",
    "POST /book/{token}", "GET /schemas/events", "GET /schemas/events/{event_type}.json",
    "GET /login", "POST /login", "GET /logout", "POST /logout", "GET /login/oidc", "GET /login/oidc/callback",
}
UNSAFE = {"post", "put", "patch", "delete"}


def operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return [(method, path) for path, item in spec["paths"].items() for method in item
            if method in {"get", "post", "put", "patch", "delete"}]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x0", path)


async def test_every_non_public_operation_refuses_anonymous_requests_before_reading_the_body(
        make_app: Callable[..., Any]) -> None:
    app, http = make_app()
    spec = app.openapi()
    walked = operations(spec)
    assert len(walked) >= 20
    public_seen = set()
    for method, path in walked:
        label = f"{method.upper()} {path}"
        if label in PUBLIC:
            public_seen.add(label)
            assert spec["paths"][path][method]["security"] == [], label  # public on purpose, and documented so
            continue
        operation = spec["paths"][path][method]
        assert {"bearer": []} in operation["security"] and {"session": []} in operation["security"], label
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "Basic YTpi"},
                        {"cookie": "noshow_session=forged"}):
            kwargs: dict[str, Any] = {"headers": {**headers, "content-type": "application/json"}}
            if method in UNSAFE:
                kwargs["content"] = b'{"not": json'  # malformed: a parse-first route would answer 422
            r = await http.request(method.upper(), concrete(path), **kwargs)
            assert r.status_code == 401, (label, headers, r.status_code, r.text[:200])
            assert r.headers.get("www-authenticate") == "Bearer"
    # every public operation is one we meant: a new route is protected unless it is listed above
    assert public_seen == {p for p in PUBLIC if p.split(" ", 1)[1] in spec["paths"]}


@pytest.mark.parametrize(("token", "path", "method"), [
    ("tok-default", "/dashboard", "GET"), ("tok-default", "/dashboard/export.csv", "GET"),
    ("tok-default", "/dashboard/data.json", "GET"), ("tok-owner", "/inbound/local", "POST"),
    ("tok-default", "/waitlist", "POST"), ("tok-owner", "/ops/unknown-event-types", "GET"),
])
async def test_a_lower_role_gets_403_before_its_body_is_read(make_app: Callable[..., Any], token: str, path: str,
                                                             method: str) -> None:
    _, http = make_app()
    r = await http.request(method, path, content=b"{broken", headers={"authorization": f"Bearer {token}",
                                                                      "content-type": "application/json"})
    assert r.status_code == 403, r.text


async def test_an_unauthenticated_huge_body_is_refused_unread(make_app: Callable[..., Any]) -> None:
    _, http = make_app()
    read = 0

    async def body() -> Any:
        nonlocal read
        for _ in range(1000):  # 64 MB if anything read it all
            read += 1
            yield b"x" * 65536

    r = await http.post("/waitlist", content=body(), headers={"content-type": "application/json"})
    assert r.status_code == 401
    assert read <= 2, read  # httpx may have handed over the first chunk; nothing drained the stream


async def test_owner_reaches_the_dashboard_and_each_export_is_audited(make_app: Callable[..., Any]) -> None:
    app, http = make_app()
    owner = {"authorization": "Bearer tok-owner"}
    assert (await http.get("/dashboard", headers=owner)).status_code == 200
    assert (await http.get("/dashboard/export.csv?by=channel&owner=Jane", headers=owner)).status_code == 200
    assert (await http.get("/dashboard/data.json", headers={"authorization": "Bearer dev-admin-token"})
            ).status_code == 200
    audit = [r for r in app.state.noshow.deps.reviews.audit_log() if r["action"] == "dashboard.export"]
    assert [r["actor"] for r in audit] == ["owner-default", "admin"]
    assert "Jane" not in str(audit) and "owner" in str(audit[0]["detail"])  # filter names, not values
