"""A tiny fake provider HTTP server for tests: threaded, bound to 127.0.0.1 on a free port, records every
request and can be told to fail the next calls (500, 429 + Retry-After, hang, connection reset).

Subclass `FakeServer`, register routes in `setup_routes` with `self.route(method, path_regex, handler)`, where
the handler takes (request, match) and returns a `FakeResponse`. Use it as a context manager.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass
class RecordedRequest:
    method: str
    path: str  # percent-decoded, for inspection
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    raw_path: str = ""  # as sent: routes match on it, segment by segment, like a real server
    # every parameter, repeated names kept (`query` keeps one value per name)
    query_pairs: list[tuple[str, str]] = field(default_factory=list)
    raw_query: str = ""  # as sent

    def params(self, name: str) -> list[str]:
        """Every value of a query parameter, in order (FHIR repeats `start=ge...&start=lt...`)."""
        return [v for k, v in self.query_pairs if k == name]

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True)) if self.body else {}

    def json(self) -> Any:
        return json.loads(self.body.decode()) if self.body else None


@dataclass
class FakeResponse:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str/bytes -> as is
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, str]:
        if self.body is None:
            return b"", "application/json"
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain"
        return json.dumps(self.body).encode(), "application/json"


@dataclass
class _Failure:
    kind: str  # "status" | "hang" | "reset"
    response: FakeResponse | None = None


class DecodedMatch:
    """A route match whose groups are percent-decoded path segments (a `%40` or `%23` in an id is the id's own
    character; an unescaped `#` would never have reached the server)."""

    def __init__(self, match: re.Match[str]) -> None:
        self._match = match

    def group(self, *names: int | str) -> Any:
        value = self._match.group(*names)
        if isinstance(value, tuple):
            return tuple(unquote(v) if v is not None else None for v in value)
        return unquote(value) if value is not None else None

    def __getitem__(self, name: int | str) -> Any:
        return self.group(name)

    def groupdict(self) -> dict[str, str | None]:
        return {k: unquote(v) if v is not None else None for k, v in self._match.groupdict().items()}


Handler = Callable[[RecordedRequest, Any], FakeResponse]


class FakeServer:
    hang_seconds = 5.0  # a hung request is released at this deadline or at stop()

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._failures: deque[_Failure] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.setup_routes()

    # ------------------------------------------------------------ configuration
    def setup_routes(self) -> None:
        """Override: register provider endpoints."""

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method.upper(), re.compile(f"^{pattern}$"), handler))

    def fail_next(self, status: int = 500, body: Any = None, headers: dict[str, str] | None = None,
                  times: int = 1) -> None:
        with self._lock:
            for _ in range(times):
                self._failures.append(_Failure("status", FakeResponse(status, body, dict(headers or {}))))

    def rate_limit_next(self, retry_after: str = "7", body: Any = None, times: int = 1) -> None:
        self.fail_next(429, body if body is not None else {"message": "rate limited"},
                       {"Retry-After": retry_after}, times)

    def hang_next(self, times: int = 1) -> None:
        with self._lock:
            self._failures.extend(_Failure("hang") for _ in range(times))

    def reset_next(self, times: int = 1) -> None:
        with self._lock:
            self._failures.extend(_Failure("reset") for _ in range(times))

    # ------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                return

            def _handle(self) -> None:
                fake._dispatch(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        # a short poll interval: stop() returns within one interval, not the default half second per fake
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ inspection
    def calls(self, method: str | None = None, path_contains: str = "") -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests
                    if (method is None or r.method == method.upper()) and path_contains in r.path]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met before the deadline")
            time.sleep(0.01)

    # ------------------------------------------------------------ internals
    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("content-length") or 0)
        body = h.rfile.read(length) if length else b""
        req = RecordedRequest(
            method=h.command, path=unquote(parts.path), query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in h.headers.items()}, body=body, raw_path=parts.path,
            query_pairs=parse_qsl(parts.query, keep_blank_values=True), raw_query=parts.query,
        )
        with self._lock:
            self.requests.append(req)
            failure = self._failures.popleft() if self._failures else None
        if failure is not None and failure.kind == "reset":
            # SO_LINGER 0 makes close() send RST: the client sees a reset with no response
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
            h.close_connection = True
            return
        if failure is not None and failure.kind == "hang":
            self._release.wait(self.hang_seconds)
            h.close_connection = True
            return
        response = failure.response if failure is not None and failure.response is not None else self._route(req)
        self._write(h, response)

    def _route(self, req: RecordedRequest) -> FakeResponse:
        for method, pattern, handler in self._routes:
            match = pattern.match(req.raw_path or req.path)
            if match and method == req.method:
                try:
                    return handler(req, DecodedMatch(match))
                except Exception as exc:  # a bug in the fake must show up as a 500, not a hung test
                    return FakeResponse(500, {"error": "fake handler failed", "detail": type(exc).__name__})
        return FakeResponse(404, {"message": "no such endpoint", "code": "not_found"})

    @staticmethod
    def _write(h: BaseHTTPRequestHandler, response: FakeResponse) -> None:
        payload, media = response.encode()
        h.send_response(response.status)
        headers = {"Content-Type": media, **response.headers}
        for key, value in headers.items():
            h.send_header(key, value)
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        if payload:
            h.wfile.write(payload)
