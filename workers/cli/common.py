"""What every command shares: one error style (no tracebacks), the settings, and calls to the running API."""

from __future__ import annotations

from typing import Any, NoReturn

import typer

from connectors.settings import secret
from workers.settings import Settings, get_settings


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings() -> Settings:
    try:
        return get_settings()
    except Exception as exc:  # pydantic's message names the bad setting
        fail(f"invalid settings: {exc}")


def api_call(method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
    import httpx  # here, not at the top: `noshow --help` and local commands stay fast

    url = f"{settings().api.local_url}{path}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        resp = httpx.request(method, url, headers=headers, timeout=30, **kwargs)
    except httpx.HTTPError:
        fail(f"cannot reach the API at {url}; is `noshow up` (make run) running?")
    if resp.status_code >= 400:
        try:
            detail = resp.json().get("detail")
        except ValueError:
            detail = resp.text
        fail(f"{resp.status_code}: {detail}", 1)
    return resp.json()


def admin_token() -> str:
    return (secret(settings().auth.admin_token) or "")


def reviewer_token() -> str:
    spec = (secret(settings().auth.reviewer_tokens) or "")
    return spec.split(",")[0].split("=")[0]
