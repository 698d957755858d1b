"""What every command shares: one error style (no tracebacks), the settings, and calls to the running API.

Exit codes, the same for every command: 0 done, 1 refused or not found (the API said no, the case does not
exist, a check failed, the stack is not running), 2 usage (an unknown option or value, an invalid setting).
"""

from __future__ import annotations

from typing import Any, NoReturn

import typer

from connectors.settings import secret
from workers.settings import Settings, get_settings

DONE, REFUSED, USAGE = 0, 1, 2


def fail(message: str, code: int = USAGE) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings() -> Settings:
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from workers.settings_errors import unreadable

    try:
        return get_settings()
    except (ValidationError, SettingsError) as exc:  # named by variable, never echoing the value
        fail(f"invalid settings: {unreadable(exc)}")


def api_call(method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
    import httpx  # here, not at the top: `noshow --help` and local commands stay fast

    url = f"{settings().api.local_url}{path}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        resp = httpx.request(method, url, headers=headers, timeout=30, **kwargs)
    except httpx.HTTPError:
        fail(f"cannot reach the API at {url}; is `noshow up` (make run) running?", REFUSED)
    if resp.status_code >= 400:
        try:
            detail = resp.json().get("detail")
        except ValueError:
            detail = resp.text
        # the API refusing what was asked is 1; a request it could not understand is a usage error
        fail(f"{resp.status_code}: {detail}", USAGE if resp.status_code in (400, 422) else REFUSED)
    return resp.json()


def echo_json(data: Any) -> None:
    import json

    typer.echo(json.dumps(data, indent=2, default=str))


def admin_token() -> str:
    return (secret(settings().auth.admin_token) or "")


def reviewer_token() -> str:
    spec = (secret(settings().auth.reviewer_tokens) or "")
    return spec.split(",")[0].split("=")[0]
