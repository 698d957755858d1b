"""Error responses that never echo request data and never fail to render.

FastAPI's default 422 copies each error's raw `input` (and `ctx`) into the response: that hands a reviewer's
note or a customer's text back to whoever sent it, and an input that JSON cannot encode (undecodable bytes, a
lone UTF-16 surrogate) turns the 422 itself into a 500. Here a validation error answers with where (`loc`),
what (`msg`) and the error `type` only.

A Content-Length that is not plain ASCII digits is refused with 400 before any route reads the body
(`'²'.isdigit()` is true, `int('²')` raises); conflicting duplicate Content-Length headers too (RFC 9110 §8.6).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

_DIGITS = re.compile(rb"[0-9]+")  # ASCII only: str.isdigit() also takes '²' and other Unicode digits
_MAX_ERRORS = 20  # a body with thousands of bad items gets a bounded answer
_MAX_TEXT = 200


def _text(value: object) -> str:
    """A string JSON can always encode (a lone surrogate becomes '?'), clipped."""
    return str(value).encode("utf-8", "replace").decode("utf-8")[:_MAX_TEXT]


def _loc_part(part: Any) -> str | int:
    return part if isinstance(part, int) and not isinstance(part, bool) else _text(part)


def safe_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """loc / msg / type of each validation error: no `input`, no `ctx`, no `url`."""
    out: list[dict[str, Any]] = []
    for error in list(errors)[:_MAX_ERRORS]:
        if not isinstance(error, dict):
            continue
        out.append({"loc": [_loc_part(p) for p in error.get("loc") or ()],
                    "msg": _text(error.get("msg", "invalid")), "type": _text(error.get("type", "value_error"))})
    return out


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse(status_code=422, content={"detail": safe_errors(errors) or "invalid request"})


def _refusal(values: set[bytes]) -> tuple[int, str] | None:
    if not values:
        return None
    if len(values) > 1:
        return 400, "conflicting Content-Length headers"
    (value,) = values
    if not _DIGITS.fullmatch(value):
        return 400, "invalid Content-Length"
    if len(value.lstrip(b"0")) > 18:  # no body limit is anywhere near 10**18 bytes; int() of it is never needed
        return 413, "body too large"
    return None


class ContentLengthGuard:
    """Pure ASGI middleware: 400 for a malformed or conflicting Content-Length, before anything reads the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            values = {v for k, v in scope.get("headers", ()) if k.lower() == b"content-length"}
            refusal = _refusal(values)
            if refusal is not None:
                await JSONResponse({"detail": refusal[1]}, status_code=refusal[0])(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Register the safe 422 handler and the Content-Length guard on `app` (call once, in create_app)."""
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_middleware(ContentLengthGuard)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 past `limit` bytes: by the declared length before reading, else while reading."""
    length = request.headers.get("content-length")
    if length is not None:
        if not (length.isascii() and length.isdigit()):
            raise HTTPException(400, "invalid Content-Length")
        if int(length) > limit:
            raise HTTPException(413, f"body larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
