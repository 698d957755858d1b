"""Authentication and roles, enforced in one place.

Every protected route declares `Depends(require(role))` (through `Caller`, `Owner` or `Admin` in
`workers/api/deps.py`). `AuthGate`, a pure ASGI middleware, finds that declaration on the matched route and
authenticates the request from its headers (a bearer token or the session cookie) and checks the role *before*
anything reads the body: an anonymous malformed body gets 401, never 400/422, and a 300 MB body with no token
is refused unread. The dependency itself checks again (so a route is never open when the gate is absent) and
checks the CSRF token of a cookie-authenticated unsafe request.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import HTTPException, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import JSONResponse
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from connectors.settings import secret
from workers.api.auth.principal import RANK, Principal, Role, parse_token_spec
from workers.api.auth.store import AuthStore

SESSION_COOKIE = "noshow_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

# documented on every protected operation (OpenAPI security schemes); auto_error off: the gate answers
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="`Authorization: Bearer <token>`: NOSHOW_ADMIN_TOKEN, NOSHOW_OWNER_TOKENS, "
                                "NOSHOW_REVIEWER_TOKENS or a token from `noshow users token`.")
COOKIE = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="session",
                      description="The browser session set by `/login`; unsafe requests also need the session's "
                                  f"CSRF token in `{CSRF_HEADER}` or a `{CSRF_FIELD}` form field.")


class Authenticator:
    """Who a request's headers name: env tokens (constant-time compared), stored tokens, or a session."""

    def __init__(self, settings: Any, store: AuthStore) -> None:
        auth = settings.auth
        self.admin = (secret(auth.admin_token) or "").encode()
        self.tokens = {**parse_token_spec(secret(auth.reviewer_tokens) or "", "reviewer"),
                       **parse_token_spec(secret(auth.owner_tokens) or "", "owner")}
        self.store = store

    def from_token(self, token: str) -> Principal | None:
        raw = token.encode()
        if self.admin and hmac.compare_digest(raw, self.admin):
            return Principal("admin", "admin", {"*"})
        found = None
        for candidate, who in self.tokens.items():
            if hmac.compare_digest(raw, candidate.encode()):
                found = who
        return found or self.store.token_principal(token)

    def authenticate(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> Principal | None:
        authorization = headers.get("authorization") or ""
        if authorization[:7].lower() == "bearer " and authorization[7:].strip():
            return self.from_token(authorization[7:].strip())
        sid = cookies.get(SESSION_COOKIE)
        if sid and len(sid) < 200:
            return self.store.session_principal(sid)
        return None


def _refuse(status: int, detail: str) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return HTTPException(status, detail, headers=headers)


def check(who: Principal | None, role: Role) -> Principal:
    if who is None:
        raise _refuse(401, "sign in or send a valid bearer token")
    if not who.at_least(role):
        raise _refuse(403, f"this endpoint needs the {role} role")
    return who


def csrf_ok(who: Principal, supplied: str | None) -> bool:
    return bool(who.csrf and supplied and hmac.compare_digest(who.csrf.encode(), supplied.encode()))


class Requirement:
    """`Depends(require("owner"))`: the caller, signed in with at least that role."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(self, request: Request,
                       bearer: HTTPAuthorizationCredentials | None = Security(BEARER),
                       session: str | None = Security(COOKIE)) -> Principal:
        who = getattr(request.state, "principal", None)
        if not isinstance(who, Principal):
            authenticator: Authenticator = request.app.state.noshow.authenticator
            who = await asyncio.to_thread(authenticator.authenticate, request.headers, request.cookies)
        who = check(who, self.role)
        if who.csrf:  # pages put it in their forms (and htmx in its headers), so the next unsafe request passes
            request.state.csrf_token = who.csrf
        if who.via == "session" and request.method not in SAFE_METHODS:
            supplied = request.headers.get(CSRF_HEADER)
            if supplied is None and request.headers.get("content-type", "").startswith(FORM_TYPES):
                field = (await request.form()).get(CSRF_FIELD)
                supplied = field if isinstance(field, str) else None
            if not csrf_ok(who, supplied):
                raise _refuse(403, "missing or wrong CSRF token")
        return who


_REQUIREMENTS: dict[str, Requirement] = {}


def require(role: Role) -> Requirement:
    """One shared dependency per role (FastAPI then resolves it once per request)."""
    return _REQUIREMENTS.setdefault(role, Requirement(role))


def _requirements(dependencies: Iterable[Any]) -> Iterable[Requirement]:
    for dep in dependencies:
        if isinstance(dep.call, Requirement):
            yield dep.call
        yield from _requirements(dep.dependencies)


def route_requirement(route: APIRoute) -> Role | None:
    """The strongest role a route's dependencies declare, or None for a public route."""
    roles = [r.role for r in _requirements(route.dependant.dependencies)]
    if not roles:
        return None
    return max(roles, key=RANK.__getitem__)


def route_table(routers: Iterable[Any]) -> list[tuple[APIRoute, Role | None]]:
    """Every API route of `routers`, in the order the app matches them, with the role it declares."""
    return [(route, route_requirement(route)) for router in routers for route in router.routes
            if isinstance(route, APIRoute)]


class AuthGate:
    """Pure ASGI: authenticate and check the role of a protected route from its headers before the body.

    `routes` is the app's route table (`route_table`), matched here as the router will match it."""

    def __init__(self, app: ASGIApp, routes: list[tuple[APIRoute, Role | None]]) -> None:
        self.app = app
        self.routes = routes

    def _role_for(self, scope: Scope) -> Role | None:
        for route, role in self.routes:
            if route.matches(scope)[0] == Match.FULL:
                return role
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        role = self._role_for(scope)
        if role is not None:
            request = Request(scope)
            authenticator: Authenticator = scope["app"].state.noshow.authenticator
            try:
                who = check(await asyncio.to_thread(authenticator.authenticate, request.headers, request.cookies),
                            role)
                if (who.via == "session" and request.method not in SAFE_METHODS
                        and not request.headers.get("content-type", "").startswith(FORM_TYPES)
                        and not csrf_ok(who, request.headers.get(CSRF_HEADER))):
                    raise _refuse(403, "missing or wrong CSRF token")
            except HTTPException as exc:
                await JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)(scope, receive, send)
                return
            scope.setdefault("state", {})["principal"] = who
        await self.app(scope, receive, send)
