"""The console's templates: one Jinja2 environment, the CSRF field every form carries, and page rendering."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from workers.api.deps import Principal

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def csrf_field(request: Request) -> Markup:
    """A hidden `csrf_token` input with the request's token when the sign-in layer set one (empty otherwise)."""
    token = getattr(request.state, "csrf_token", None)
    if not token:
        return Markup("")
    return Markup(f'<input type="hidden" name="csrf_token" value="{escape(str(token))}">')


templates.env.globals["csrf_field"] = csrf_field


def page(request: Request, name: str, who: Principal, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"who": who, **context}, status_code=status_code)
