"""Reading a console form: only after the route's caller dependency ran (authenticated before the body is
read), within a size limit declared up front, text fields only."""

from __future__ import annotations

from fastapi import HTTPException, Request
from starlette.datastructures import UploadFile

FORM_LIMIT = 64 * 1024
UPLOAD_LIMIT = 1024 * 1024


def _declared(request: Request, limit: int) -> None:
    length = request.headers.get("content-length")
    if length is None:
        raise HTTPException(411, "a form needs a Content-Length")
    if int(length) > limit:  # ASCII digits: checked by the Content-Length guard before any route
        raise HTTPException(413, f"form larger than {limit} bytes")


async def read_form(request: Request, limit: int = FORM_LIMIT) -> dict[str, str]:
    _declared(request, limit)
    form = await request.form(max_files=0)
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def read_upload(request: Request, name: str, limit: int = UPLOAD_LIMIT) -> bytes | None:
    _declared(request, limit)
    form = await request.form(max_files=1, max_fields=10)
    item = form.get(name)
    if not isinstance(item, UploadFile):
        return None
    return await item.read(limit + 1)
