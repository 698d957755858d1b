"""`noshow codec-server`: lets the Temporal Web UI and CLI show decrypted payloads to engineers.

Implements Temporal's codec server protocol: `POST /decode` and `POST /encode` with a JSON-encoded
`temporalio.api.common.v1.Payloads` body ({"payloads": [...]}) and the same shape back.

Because it holds the keys, a decode is as sensitive as reading the data itself:
- every request needs `Authorization: Bearer <token>` (NOSHOW_CODEC_TOKENS, compared in constant time); the UI
  forwards the user's token when its codec setting "pass access token" is on;
- CORS answers only the UI origin(s) (NOSHOW_CODEC_ORIGINS); requests from any other browser origin are refused;
- optionally only some namespaces (X-Namespace header, NOSHOW_CODEC_NAMESPACES);
- bodies over the limit get 413 before they are buffered;
- nothing it logs contains a payload or a token.

Local use: `noshow codec-server` then `temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8234`.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable

import structlog
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from google.protobuf import json_format
from starlette.middleware.cors import CORSMiddleware
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from connectors.settings import secret
from workers.api.errors import read_body
from workers.health_data import payload_key
from workers.settings import Settings
from workers.temporal.codec import EncryptionCodec

log = structlog.get_logger(__name__)

DEFAULT_ORIGINS = ["http://127.0.0.1:8233", "http://localhost:8233"]
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024  # a history page of payloads; Temporal caps one payload at 2 MB
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "[::1]", "::1"}


def create_codec_app(
    codec: PayloadCodec,
    tokens: list[str],
    allowed_origins: list[str],
    *,
    namespaces: list[str] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    require_auth: bool = True,
) -> FastAPI:
    """The codec server app. With no tokens and `require_auth` on, every request is refused (fail closed).

    `require_auth=False` is for a codec server on loopback next to the dev server, whose UI has no login and so
    no token to forward; it then also refuses any Host header that is not a loopback name (DNS rebinding).
    """
    token_bytes = [t.encode() for t in tokens if t]
    origins = [o.rstrip("/") for o in allowed_origins if o]
    app = FastAPI(title="noshow codec server", docs_url=None, redoc_url=None, openapi_url=None)

    def authenticate(request: Request) -> None:
        if not require_auth:
            if _host_name(request.headers.get("host") or "") not in _LOOPBACK_NAMES:
                raise HTTPException(403, "unauthenticated mode answers loopback hosts only")
            return
        header = request.headers.get("authorization") or ""
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        presented = credential.strip().encode()
        # compare against every token so the time taken does not say which one (or how much) matched
        matched = False
        for candidate in token_bytes:
            matched |= hmac.compare_digest(presented, candidate)
        if not matched:
            raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})

    def check_origin_and_namespace(request: Request) -> None:
        origin = request.headers.get("origin")
        if origin is not None and origin.rstrip("/") not in origins:
            # CORS alone only hides the answer from a foreign page; refuse to do the work at all
            raise HTTPException(403, "origin not allowed")
        if namespaces:
            namespace = request.headers.get("x-namespace")
            if namespace not in namespaces:
                raise HTTPException(403, "namespace not served by this codec server")

    async def handle(request: Request, apply: Callable[[Payloads], Awaitable[None]], action: str) -> Response:
        check_origin_and_namespace(request)
        authenticate(request)
        body = await read_body(request, max_body_bytes)
        payloads = Payloads()
        try:
            json_format.Parse(body, payloads, ignore_unknown_fields=True)
        except (json_format.ParseError, UnicodeDecodeError, ValueError):
            raise HTTPException(400, 'body must be JSON like {"payloads": [{"metadata": {...}, "data": "..."}]}') \
                from None
        try:
            await apply(payloads)
        except ValueError as exc:  # CodecError: unknown key id or tampered payload; names no content
            log.info("codec_request_failed", action=action, count=len(payloads.payloads), error=type(exc).__name__)
            raise HTTPException(422, str(exc)) from None
        log.info("codec_request", action=action, count=len(payloads.payloads),
                 namespace=request.headers.get("x-namespace"))
        return Response(json_format.MessageToJson(payloads), media_type="application/json")

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        return await handle(request, codec.decode_wrapper, "decode")

    @app.post("/encode")
    async def encode(request: Request) -> Response:
        return await handle(request, codec.encode_wrapper, "encode")

    @app.get("/health")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    # outermost, so even a 401/403 reaches the UI with CORS headers (for its own origin only) and can be shown
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
        allow_credentials=True,
        max_age=600,
    )
    return app




def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _host_name(header: str) -> str:
    """The host of a Host header without its port: "[::1]:8234" -> "[::1]", "localhost:8234" -> "localhost"."""
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def build_from_settings(settings: Settings, host: str = "127.0.0.1", allow_unauthenticated: bool = False
                        ) -> FastAPI:
    """The app as `noshow codec-server` runs it; a clear ValueError for every configuration mistake."""
    key = payload_key(settings)
    if key is None:
        raise ValueError("NOSHOW_ENCRYPTION_KEY is not set: the codec server needs the same keys as the worker")
    codec = EncryptionCodec.from_setting(key)
    tokens = _split(secret(settings.codec.tokens) or "")
    if not tokens and not allow_unauthenticated:
        raise ValueError("NOSHOW_CODEC_TOKENS is not set: give one or more bearer tokens (comma-separated), or "
                         "--allow-unauthenticated for a loopback-only server next to the dev server")
    if allow_unauthenticated and not _is_loopback(host):
        raise ValueError(f"--allow-unauthenticated is only allowed on a loopback address, not {host!r}")
    return create_codec_app(
        codec, tokens, _split(settings.codec.origins), namespaces=_split(settings.codec.namespaces) or None,
        max_body_bytes=settings.codec.max_body_bytes, require_auth=not allow_unauthenticated,
    )
