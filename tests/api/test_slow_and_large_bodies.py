"""The API served by uvicorn as in production, attacked as a client would: huge bodies without a token, slow
bodies, idle keep-alive connections and clients that walk away. Each is cut off early and cheaply."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import uvicorn
from temporalio.client import Client

from tests.engine.conftest import settings_for
from tests.helpers import fast_policy
from workers.api.app import create_app, server_config
from workers.dependencies import build_dependencies

CHUNK = 64 * 1024
HUGE = 300 * 1024 * 1024
# what the kernel's socket buffers and one server-side read can absorb before the server stops reading
MAX_ACCEPTED = 16 * 1024 * 1024


@pytest_asyncio.fixture
async def server(client: Client, task_queue: str, tmp_path: Path) -> AsyncIterator[int]:
    settings = settings_for(tmp_path, task_queue, fast_policy())
    settings = settings.model_copy(update={"api": settings.api.model_copy(
        update={"body_read_seconds": 1.0, "keep_alive_seconds": 1})})
    app = create_app(settings, client=client, deps=build_dependencies(settings))
    srv = uvicorn.Server(server_config(app, settings, port=0))
    task = asyncio.create_task(srv.serve())
    while not srv.started:
        await asyncio.sleep(0.02)
    yield srv.servers[0].sockets[0].getsockname()[1]
    srv.should_exit = True
    await task


async def status_of(reader: asyncio.StreamReader, timeout: float) -> int:
    line = await asyncio.wait_for(reader.readline(), timeout)
    assert line.startswith(b"HTTP/1.1 "), line
    return int(line.split()[1])


async def send_chunked_until_answered(port: int, path: str) -> tuple[int | None, int]:
    """Stream a 300 MB chunked body; returns the status (once the server answers) and the bytes it took."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n"
                 "transfer-encoding: chunked\r\n\r\n".encode())
    answer = asyncio.create_task(status_of(reader, 30))
    sent = 0
    chunk = f"{CHUNK:x}\r\n".encode() + b"7" * CHUNK + b"\r\n"
    try:
        while sent < HUGE and not answer.done() and sent <= MAX_ACCEPTED:
            writer.write(chunk)
            try:
                await asyncio.wait_for(writer.drain(), 2)
            except TimeoutError:  # the server stopped reading: its answer is on the way
                break
            sent += CHUNK
    except (ConnectionError, OSError):
        pass
    try:
        status: int | None = await answer
    except (TimeoutError, ConnectionError, AssertionError):
        status = None
    writer.transport.abort()
    return status, sent


@pytest.mark.parametrize("path", ["/inbound/local", "/waitlist", "/reviews/case-x/decision", "/webhooks/events"])
async def test_a_huge_unauthenticated_chunked_body_is_refused_before_it_is_read(server: int, path: str) -> None:
    status, sent = await send_chunked_until_answered(server, path)
    assert sent <= MAX_ACCEPTED, f"the server kept reading: {sent} bytes of {path}"
    assert status in (401, 413), status


async def test_a_declared_length_over_the_limit_is_refused_without_reading(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"POST /inbound/local HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n"
                 b"content-length: 314572800\r\n\r\n{")
    assert await status_of(reader, 5) in (401, 413)
    writer.close()


async def test_a_slow_body_is_cut_off_with_408(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"POST /webhooks/events HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n"
                 b"content-length: 1000\r\n\r\n{\"type\": ")
    await writer.drain()
    started = asyncio.get_running_loop().time()
    assert await status_of(reader, 5) == 408
    assert asyncio.get_running_loop().time() - started < 3
    writer.close()


async def test_an_idle_keep_alive_connection_is_closed(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"GET /health HTTP/1.1\r\nhost: test\r\n\r\n")
    assert await status_of(reader, 5) == 200
    # the response, then nothing: the server must hang up on its own
    rest = await asyncio.wait_for(reader.read(), 5)
    assert b'"ok"' in rest
    assert reader.at_eof()
    writer.close()


async def test_a_client_that_walks_away_is_not_an_error(server: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for path in ("/webhooks/events", "/inbound/local"):
        _, writer = await asyncio.open_connection("127.0.0.1", server)
        writer.write(f"POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n"
                     "content-length: 5000\r\n\r\n{{\"a\": ".encode())
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.transport.abort()
    await asyncio.sleep(0.5)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
