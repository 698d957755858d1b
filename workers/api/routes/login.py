"""Sign-in pages for people: `/login` (local accounts, and OpenID Connect when configured), `/logout`.

Minimal server-rendered HTML with no external requests. The session cookie is HttpOnly, SameSite and Secure
(unless the API is configured for local http). Every form carries a CSRF token: the login form a double-submit
token bound to a pre-login cookie, the logout form the session's own. Every sign-in, accepted or refused, is
audited under an opaque user id (refusals of unknown names as `anonymous`), never the name that was typed.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from datetime import timedelta
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workers.api.auth.guard import CSRF_FIELD, SESSION_COOKIE
from workers.api.auth.oidc import OidcClient, OidcError, principal_for
from workers.api.auth.principal import Principal
from workers.api.deps import AppState, State

router = APIRouter(tags=["sign-in"])


def _html(text: str) -> dict[str, Any]:
    return {"description": text, "content": {"text/html": {"schema": {"type": "string"}}}}


REDIRECT: dict[str, Any] = {"description": "signed in or out: on to the next page (`Location`)"}
LOGIN_ANSWERS: dict[int | str, dict[str, Any]] = {303: REDIRECT, 401: _html("wrong name or password"),
                                                 403: _html("the form's CSRF token is missing or wrong"),
                                                 429: _html("too many failed sign-ins for this name")}
LOGOUT_ANSWERS: dict[int | str, dict[str, Any]] = {303: REDIRECT, 403: _html("not this session's CSRF token")}
OIDC_ANSWERS: dict[int | str, dict[str, Any]] = {
    303: REDIRECT, 400: _html("the sign-in did not start in this browser, or was already used"),
    401: _html("the issuer refused the code or the ID token is not valid"),
    403: _html("the settings give this person no role"), 404: _html("single sign-on is not configured"),
    502: _html("the issuer is not reachable")}
LOGIN_CSRF_COOKIE = "noshow_login_csrf"
OIDC_STATE_COOKIE = "noshow_oidc_state"
STYLE = ("body{font-family:system-ui;max-width:24em;margin:3em auto;padding:0 1em}label,input,button{display:block;"
         "width:100%;margin:.4em 0;font-size:1em}input,button{padding:.5em}.err{color:#a00}")


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html><head><meta charset=utf-8><meta name=viewport content='width=device-"
                        f"width,initial-scale=1'><title>{escape(title)}</title><style>{STYLE}</style></head><body>"
                        f"<h1>{escape(title)}</h1>{body}</body></html>", status_code=status,
                        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                                 "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                                            "form-action 'self'; frame-ancestors 'none'"})


def safe_next(value: str | None) -> str:
    """A local path to return to after sign-in; anything else (another host, `//host`, `/\\host`) goes to /login."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")) or len(value) > 500:
        return "/login"
    return value if all(c.isprintable() and not c.isspace() for c in value) else "/login"


def _secure(st: AppState) -> bool:
    configured = st.settings.session.secure
    return configured if configured is not None else st.settings.api.public_base_url.startswith("https://")


def _cookie(st: AppState, response: Response, name: str, value: str, max_age: int, samesite: str) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=_secure(st), httponly=True,
                        samesite=samesite)  # type: ignore[arg-type]


def _audit(st: AppState, actor: str, action: str, **detail: object) -> None:
    st.deps.reviews.audit(actor, action, None, dict(detail))


def _start_session(st: AppState, who: Principal, next_path: str) -> Response:
    ttl = timedelta(hours=st.settings.session.ttl_hours)
    sid, _ = st.users.open_session(who.identity, who.role, who.programs, ttl)
    response = RedirectResponse(safe_next(next_path), status_code=303)
    _cookie(st, response, SESSION_COOKIE, sid, int(ttl.total_seconds()), st.settings.session.samesite)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


def _oidc(st: AppState) -> OidcClient | None:
    if not st.settings.oidc.enabled:
        return None
    if st.oidc is None:
        st.oidc = OidcClient(st.settings.oidc, st.settings.api.public_base_url.rstrip("/") + "/login/oidc/callback")
    return st.oidc


def _login_form(st: AppState, next_path: str, error: str | None = None, status: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    oidc = ("<p><a href='/login/oidc?next=" + escape(next_path, quote=True) + "'>Sign in with your organisation</a>"
            "</p>") if st.settings.oidc.enabled else ""
    form = (("<p class=err>" + escape(error) + "</p>" if error else "")
            + "<form method=post action=/login>"
            f"<input type=hidden name={CSRF_FIELD} value='{token}'>"
            f"<input type=hidden name=next value='{escape(next_path, quote=True)}'>"
            "<label>Username <input name=username autocomplete=username required maxlength=254></label>"
            "<label>Password <input name=password type=password autocomplete=current-password required "
            "maxlength=1024></label><button type=submit>Sign in</button></form>" + oidc)
    response = _page("Sign in", form, status)
    _cookie(st, response, LOGIN_CSRF_COOKIE, token, 3600, "strict")
    return response


@router.get("/login", response_class=HTMLResponse, summary="The sign-in page (local accounts; OIDC when configured)")
async def login_page(request: Request, st: State,
                     next: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    sid = request.cookies.get(SESSION_COOKIE)
    who = await asyncio.to_thread(st.users.session_principal, sid) if sid and len(sid) < 200 else None
    if who is not None:
        return _page("Signed in", f"<p>Signed in as {escape(who.role)} ({escape(who.identity)}).</p>"
                     "<p><a href=/dashboard>Dashboard</a> · <a href=/logout>Sign out</a></p>")
    return _login_form(st, safe_next(next))


@router.post("/login", response_class=HTMLResponse, summary="Sign in with a local account",
             responses=LOGIN_ANSWERS)
async def login(request: Request, st: State, username: Annotated[str, Form(max_length=254)],
                password: Annotated[str, Form(max_length=1024)],
                csrf_token: Annotated[str, Form(max_length=100)],
                next: Annotated[str | None, Form(max_length=500)] = None) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        _audit(st, "anonymous", "signin.failed", method="password", reason="csrf")
        return _login_form(st, safe_next(next), "The form expired: try again.", 403)
    wait = st.throttle.retry_after(username)
    if wait is not None:
        _audit(st, "anonymous", "signin.failed", method="password", reason="throttled")
        response = _login_form(st, safe_next(next), "Too many failed sign-ins: try again later.", 429)
        response.headers["Retry-After"] = str(wait)
        return response
    user, reason = await asyncio.to_thread(st.users.check_password, username, password)
    if user is None:
        st.throttle.failed(username)
        actor = getattr(st.users.user(username), "user_id", "anonymous") if reason != "unknown_user" else "anonymous"
        _audit(st, actor, "signin.failed", method="password", reason=reason)
        return _login_form(st, safe_next(next), "Wrong username or password, or the account is disabled.", 401)
    st.throttle.succeeded(username)
    _audit(st, user.user_id, "signin.ok", method="password", role=user.role)
    return _start_session(st, Principal(user.user_id, user.role, user.programs, via="session"), next or "/login")


@router.get("/logout", response_class=HTMLResponse, summary="The sign-out page", responses={303: REDIRECT})
async def logout_page(request: Request, st: State) -> Response:
    sid = request.cookies.get(SESSION_COOKIE)
    who = await asyncio.to_thread(st.users.session_principal, sid) if sid and len(sid) < 200 else None
    if who is None:
        return RedirectResponse("/login", status_code=303)
    return _page("Sign out", f"<form method=post action=/logout><input type=hidden name={CSRF_FIELD} "
                 f"value='{escape(who.csrf or '', quote=True)}'><button type=submit>Sign out</button></form>")


@router.post("/logout", summary="End the browser session (needs the session's CSRF token)",
             responses=LOGOUT_ANSWERS)
async def logout(request: Request, st: State, csrf_token: Annotated[str, Form(max_length=100)]) -> Response:
    sid = request.cookies.get(SESSION_COOKIE) or ""
    who = await asyncio.to_thread(st.users.session_principal, sid) if sid and len(sid) < 200 else None
    if who is None or not who.csrf or not hmac.compare_digest(who.csrf.encode(), csrf_token.encode()):
        return _page("Sign out", "<p class=err>That sign-out form is not yours or has expired.</p>", 403)
    await asyncio.to_thread(st.users.close_session, sid)
    _audit(st, who.identity, "signout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/login/oidc", summary="Start OpenID Connect sign-in (authorization code + PKCE)",
            responses=OIDC_ANSWERS)
async def oidc_start(st: State, next: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    client = _oidc(st)
    if client is None:
        return _page("Sign in", "<p>Single sign-on is not configured.</p>", 404)
    try:
        url, state, nonce, verifier = await client.authorization_url()
    except OidcError as exc:
        return _page("Sign in", f"<p class=err>{escape(str(exc))}</p>", 502)
    await asyncio.to_thread(st.users.begin_oidc, state, nonce, verifier, safe_next(next))
    response = RedirectResponse(url, status_code=303)
    _cookie(st, response, OIDC_STATE_COOKIE, state, 600, "lax")  # must come back on the issuer's redirect
    return response


@router.get("/login/oidc/callback", summary="Where the issuer sends the browser back with a code",
            responses=OIDC_ANSWERS)
async def oidc_callback(request: Request, st: State, code: Annotated[str | None, Query(max_length=2000)] = None,
                        state: Annotated[str | None, Query(max_length=200)] = None,
                        error: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    client = _oidc(st)
    if client is None:
        return _page("Sign in", "<p>Single sign-on is not configured.</p>", 404)
    bound = request.cookies.get(OIDC_STATE_COOKIE) or ""
    begun = None
    if state and bound and hmac.compare_digest(bound.encode(), state.encode()):
        begun = await asyncio.to_thread(st.users.finish_oidc, state)
    if error or not code or begun is None:
        _audit(st, "anonymous", "signin.failed", method="oidc", reason="issuer_error" if error else "state")
        return _page("Sign in", "<p class=err>Sign-in did not complete. <a href=/login>Try again</a>.</p>", 400)
    nonce, verifier, next_path = begun
    try:
        claims = await client.claims(code, nonce, verifier)
    except OidcError as exc:
        _audit(st, "anonymous", "signin.failed", method="oidc", reason=str(exc)[:80])
        return _page("Sign in", "<p class=err>Sign-in did not complete. <a href=/login>Try again</a>.</p>", 401)
    who = principal_for(claims, st.settings.oidc, st.settings.auth.id_salt)
    if who is None:
        _audit(st, "anonymous", "signin.failed", method="oidc", reason="no_role")
        return _page("Sign in", "<p class=err>Your account has no role here. Ask an admin.</p>", 403)
    _audit(st, who.identity, "signin.ok", method="oidc", role=who.role)
    response = _start_session(st, who, next_path)
    response.delete_cookie(OIDC_STATE_COOKIE, path="/")
    return response
