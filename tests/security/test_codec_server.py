"""The codec server the Temporal UI calls: authentication, CORS for the UI origin only, size limit, protocol."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
import typer
from google.protobuf import json_format
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload, Payloads

from workers.cli.codec import codec_server
from workers.settings import Settings, get_settings
from workers.temporal.codec import ENCODING, EncryptionCodec
from workers.temporal.codec_server import build_from_settings, create_codec_app

UI = "http://127.0.0.1:8233"
TOKEN = "codec-token-for-tests"
KEY = "k1:" + base64.b64encode(b"\x07" * 32).decode()
SECRET = b'{"name":"Canary Zq7x"}'


def body(*payloads: Payload) -> bytes:
    return json_format.MessageToJson(Payloads(payloads=list(payloads))).encode()


def parsed(response: httpx.Response) -> list[Payload]:
    out = Payloads()
    json_format.Parse(response.content, out)
    return list(out.payloads)


def auth(token: str = TOKEN, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "X-Namespace": "default",
            **extra}


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = create_codec_app(EncryptionCodec.from_setting(KEY), [TOKEN, "second-token"], [UI], max_body_bytes=4096)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8234") as c:
        yield c


async def encrypted(http: httpx.AsyncClient) -> Payload:
    response = await http.post("/encode", content=body(Payload(metadata={"encoding": b"json/plain"}, data=SECRET)),
                               headers=auth())
    assert response.status_code == 200, response.text
    [p] = parsed(response)
    return p


async def test_encode_then_decode_returns_the_original_payloads(http: httpx.AsyncClient) -> None:
    original = [Payload(metadata={"encoding": b"json/plain"}, data=SECRET), Payload(metadata={"encoding": b"x"})]
    enc = await http.post("/encode", content=body(*original), headers=auth())
    encoded = parsed(enc)
    assert all(p.metadata["encoding"] == ENCODING for p in encoded) and b"Zq7x" not in enc.content
    dec = await http.post("/decode", content=body(*encoded), headers=auth(token="second-token"))
    assert dec.status_code == 200 and dec.headers["content-type"] == "application/json"
    assert parsed(dec) == original


async def test_decode_understands_what_the_worker_wrote(http: httpx.AsyncClient) -> None:
    [p] = await EncryptionCodec.from_setting(KEY).encode([Payload(metadata={"encoding": b"json/plain"}, data=SECRET)])
    response = await http.post("/decode", content=body(p), headers=auth())
    assert parsed(response)[0].data == SECRET


async def test_unauthenticated_and_wrong_tokens_get_401_and_no_plaintext(http: httpx.AsyncClient) -> None:
    content = body(await encrypted(http))
    attempts = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": TOKEN},
    ]
    for headers in attempts:
        for path in ("/decode", "/encode"):
            response = await http.post(path, content=content, headers=headers)
            assert response.status_code == 401, (headers, response.text)
            assert b"Zq7x" not in response.content and response.headers["www-authenticate"] == "Bearer"


async def test_no_tokens_configured_fails_closed() -> None:
    app = create_codec_app(EncryptionCodec.from_setting(KEY), [], [UI])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8234") as c:
        assert (await c.post("/decode", content=body(), headers=auth(token=""))).status_code == 401
        assert (await c.post("/decode", content=body(), headers={"Authorization": "Bearer "})).status_code == 401


async def test_cors_preflight_for_the_ui_origin_is_allowed(http: httpx.AsyncClient) -> None:
    response = await http.options("/decode", headers={
        "Origin": UI, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == UI
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "x-namespace" in allowed
    decoded = await http.post("/decode", content=body(await encrypted(http)), headers=auth(Origin=UI))
    assert decoded.status_code == 200 and decoded.headers["access-control-allow-origin"] == UI
    assert parsed(decoded)[0].data == SECRET
    refused = await http.post("/decode", content=body(), headers={"Origin": UI})  # the UI still needs a token
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == UI


async def test_a_foreign_origin_gets_no_cors_headers_and_no_plaintext(http: httpx.AsyncClient) -> None:
    evil = "https://evil.example"
    preflight = await http.options("/decode", headers={
        "Origin": evil, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code >= 400 and "access-control-allow-origin" not in preflight.headers
    content = body(await encrypted(http))
    for origin in (evil, "http://127.0.0.1:8233.evil.example", "http://127.0.0.1:9999", "null"):
        response = await http.post("/decode", content=content, headers=auth(Origin=origin))
        assert response.status_code == 403, origin
        assert "access-control-allow-origin" not in response.headers and b"Zq7x" not in response.content


async def test_oversized_and_malformed_bodies_get_clear_4xx(http: httpx.AsyncClient) -> None:
    big = await http.post("/decode", content=b"x" * 4097, headers=auth())
    assert big.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the stream is cut off at the limit
        for _ in range(10):
            yield b"x" * 1000

    streamed = await http.post("/decode", content=chunks(), headers=auth())
    assert streamed.status_code == 413
    for bad in (b"{not json", b'{"payloads": "nope"}', b"\xff\xfe", json.dumps({"payloads": [{"data": 5}]}).encode()):
        response = await http.post("/decode", content=bad, headers=auth())
        assert response.status_code == 400, (bad, response.text)
    assert (await http.post("/decode", content=b"x", headers={**auth(), "Content-Length": "abc"})).status_code in (
        400, 413)


async def test_tampered_or_foreign_key_payloads_get_422_without_content(http: httpx.AsyncClient) -> None:
    p = await encrypted(http)
    p.data = p.data[:-1] + bytes([p.data[-1] ^ 1])
    response = await http.post("/decode", content=body(p), headers=auth())
    assert response.status_code == 422 and "failed authentication" in response.json()["detail"]
    [other] = await EncryptionCodec.from_setting("k7:" + base64.b64encode(b"\x01" * 32).decode()).encode(
        [Payload(metadata={"encoding": b"json/plain"}, data=SECRET)])
    response = await http.post("/decode", content=body(other), headers=auth())
    assert response.status_code == 422 and "unknown key id 'k7'" in response.json()["detail"]


async def test_namespace_restriction() -> None:
    app = create_codec_app(EncryptionCodec.from_setting(KEY), [TOKEN], [UI], namespaces=["clinic-a"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8234") as c:
        assert (await c.post("/decode", content=body(), headers=auth())).status_code == 403
        ok = await c.post("/decode", content=body(), headers={**auth(), "X-Namespace": "clinic-a"})
        assert ok.status_code == 200


async def test_unauthenticated_mode_answers_loopback_hosts_only() -> None:
    app = create_codec_app(EncryptionCodec.from_setting(KEY), [], [UI], require_auth=False)
    transport = httpx.ASGITransport(app=app)
    for base, expected in (("http://127.0.0.1:8234", 200), ("http://localhost:8234", 200), ("http://[::1]:8234", 200),
                           ("http://rebind.evil.example:8234", 403)):
        async with httpx.AsyncClient(transport=transport, base_url=base) as c:
            assert (await c.post("/decode", content=body())).status_code == expected, base


def test_configuration_mistakes_are_clear(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("NOSHOW_ENCRYPTION_KEY", "NOSHOW_CODEC_TOKENS", "NOSHOW_CODEC_ORIGINS", "NOSHOW_CODEC_NAMESPACES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NOSHOW_SETTINGS_FILE", "/nonexistent/.env")
    with pytest.raises(ValueError, match="NOSHOW_ENCRYPTION_KEY is not set"):
        build_from_settings(Settings())
    monkeypatch.setenv("NOSHOW_ENCRYPTION_KEY", "k1:short")
    with pytest.raises(ValidationError, match="NOSHOW_ENCRYPTION_KEY\n  Value error, encryption key entry 1 is not"):
        Settings()  # refused with the settings, before any codec is built
    monkeypatch.setenv("NOSHOW_ENCRYPTION_KEY", KEY)
    with pytest.raises(ValueError, match="NOSHOW_CODEC_TOKENS is not set"):
        build_from_settings(Settings())
    with pytest.raises(ValueError, match="only allowed on a loopback address"):
        build_from_settings(Settings(), "0.0.0.0", allow_unauthenticated=True)
    assert build_from_settings(Settings(), "127.0.0.1", allow_unauthenticated=True) is not None
    monkeypatch.setenv("NOSHOW_CODEC_TOKENS", "a, b")
    assert build_from_settings(Settings(), "0.0.0.0") is not None
    monkeypatch.delenv("NOSHOW_ENCRYPTION_KEY")
    get_settings.cache_clear()
    with pytest.raises(typer.Exit) as exited:  # the CLI entry point: a message and exit code 2, no traceback
        codec_server(port=1)
    get_settings.cache_clear()
    assert exited.value.exit_code == 2 and "NOSHOW_ENCRYPTION_KEY is not set" in capsys.readouterr().err
