"""Browser sessions: local accounts (argon2id), the session cookie's flags, CSRF on every unsafe cookie request,
sign-out, disabled accounts, scoped API tokens, and an audit row for every sign-in without the typed name."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.auth.conftest import auth_settings
from workers.api.auth.settings import SessionSettings
from workers.api.auth.store import AuthStore
from workers.settings import ApiSettings

PASSWORD = "correct horse battery staple"


async def sign_in(http: httpx.AsyncClient, username: str, password: str, next_path: str = "/dashboard"
                  ) -> httpx.Response:
    page = await http.get("/login")
    token = re.search(r"name=csrf_token value='([^']+)'", page.text)
    assert token, page.text
    return await http.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token.group(1), "next": next_path})


def store(app: Any) -> AuthStore:
    return app.state.noshow.users  # type: ignore[no-any-return]


async def test_local_sign_in_sets_a_hardened_session_cookie_and_audits_without_the_name(
        make_app: Callable[..., Any]) -> None:
    app, http = make_app()
    user = store(app).add_user("ana.canary@example.com", PASSWORD, "owner", "default")
    wrong = await sign_in(http, "ana.canary@example.com", "not the password at all")
    unknown = await sign_in(http, "nobody.canary@example.com", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert "noshow_session" not in http.cookies
    ok = await sign_in(http, "ana.canary@example.com", PASSWORD)
    assert ok.status_code == 303 and ok.headers["location"] == "/dashboard"
    cookie = next(v for k, v in ok.headers.multi_items() if k == "set-cookie" and v.startswith("noshow_session="))
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "secure" not in cookie.lower()
    assert (await http.get("/dashboard")).status_code == 200  # owner, by cookie
    audit = [(r["actor"], r["action"]) for r in app.state.noshow.deps.reviews.audit_log()
             if str(r["action"]).startswith("signin")]
    assert audit == [(user.user_id, "signin.failed"), ("anonymous", "signin.failed"), (user.user_id, "signin.ok")]
    assert "canary" not in str(app.state.noshow.deps.reviews.audit_log())
    with store(app).db.connect() as conn:
        row = conn.execute("SELECT password_hash FROM users").fetchone()
    assert row["password_hash"].startswith("$argon2id$") and PASSWORD not in row["password_hash"]


async def test_cookie_is_secure_behind_https_and_open_redirects_are_refused(tmp_path: Path,
                                                                             make_app: Callable[..., Any]) -> None:
    settings = auth_settings(tmp_path, api=ApiSettings(public_base_url="https://noshow.example.com"),
                             session=SessionSettings(samesite="strict"))
    app, http = make_app(settings, base_url="https://test")  # the client keeps Secure cookies on https only
    store(app).add_user("bo@example.com", PASSWORD, "reviewer", "default")
    r = await sign_in(http, "bo@example.com", PASSWORD, next_path="//evil.example.com/x")
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("noshow_session="))
    assert "secure" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert r.headers["location"] == "/login"


async def test_login_form_needs_its_csrf_token(make_app: Callable[..., Any]) -> None:
    app, http = make_app()
    store(app).add_user("cy@example.com", PASSWORD, "admin")
    await http.get("/login")
    forged = await http.post("/login", data={"username": "cy@example.com", "password": PASSWORD,
                                             "csrf_token": "guessed"})
    assert forged.status_code == 403 and "noshow_session" not in http.cookies


async def test_unsafe_cookie_requests_need_the_session_csrf_token(make_app: Callable[..., Any]) -> None:
    app, http = make_app()
    store(app).add_user("di@example.com", PASSWORD, "admin")
    assert (await sign_in(http, "di@example.com", PASSWORD)).status_code == 303
    body = {"contact": {"contact_id": "c-1"}, "appointment_type": "consultation", "calendar_id": ""}
    no_token = await http.post("/waitlist", json=body)
    wrong = await http.post("/waitlist", json=body, headers={"x-csrf-token": "nope"})
    form = await http.post("/waitlist", data={"csrf_token": "nope"})
    assert no_token.status_code == wrong.status_code == form.status_code == 403
    csrf = re.search(r"value='([^']+)'", (await http.get("/logout")).text)
    assert csrf
    with_token = await http.post("/waitlist", json=body, headers={"x-csrf-token": csrf.group(1)})
    assert with_token.status_code == 422  # past authentication and CSRF: the empty calendar id is refused
    # a bearer request carries no ambient credential: no CSRF token needed
    assert (await http.get("/console/inbox")).status_code == 200
    assert (await http.post("/logout", data={"csrf_token": "nope"})).status_code == 403
    assert (await http.post("/logout", data={"csrf_token": csrf.group(1)})).status_code == 303
    assert (await http.get("/console/inbox")).status_code == 401  # the session is over, server-side


async def test_disabling_a_user_ends_sessions_and_tokens_and_tokens_stay_within_the_user(
        make_app: Callable[..., Any]) -> None:
    app, http = make_app()
    users = store(app)
    users.add_user("ed@example.com", PASSWORD, "owner", "default")
    token = users.issue_token("ed@example.com", role="reviewer")
    bearer = {"authorization": f"Bearer {token}"}
    assert (await http.get("/console/inbox", headers=bearer)).status_code == 200
    assert (await http.get("/dashboard", headers=bearer)).status_code == 403  # the token is only a reviewer's
    for role, programs in (("admin", None), (None, "dental")):
        try:
            users.issue_token("ed@example.com", role=role, programs=programs)
        except ValueError:
            continue
        raise AssertionError(f"a token beyond its user was issued: {role} {programs}")
    assert (await sign_in(http, "ed@example.com", PASSWORD)).status_code == 303
    users.set_disabled("ed@example.com")
    assert (await http.get("/dashboard")).status_code == 401
    assert (await http.get("/console/inbox", headers=bearer)).status_code == 401
    assert (await sign_in(http, "ed@example.com", PASSWORD)).status_code == 401


async def test_password_guessing_is_throttled_per_name(make_app: Callable[..., Any]) -> None:
    app, http = make_app()
    store(app).add_user("fi@example.com", PASSWORD, "reviewer")
    store(app).add_user("gus@example.com", PASSWORD, "reviewer")
    codes = [(await sign_in(http, "FI@example.com ", f"guess number {i:04d}")).status_code for i in range(10)]
    assert codes == [401] * 10
    blocked = await sign_in(http, "fi@example.com", PASSWORD)  # even the right password, for now
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert (await sign_in(http, "gus@example.com", PASSWORD)).status_code == 303  # another name is not affected
