"""`noshow up` with NOSHOW_ENCRYPTION_KEY set: the codec server runs beside the dev server and the Temporal UI
is started pointing at it, so encrypted cases are readable in the UI (and only from the UI's origin)."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import free_port, noshow_bin, stack_env, stop, wait_http
from workers.dev.stack import port_open

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

KEY = "k1:" + base64.b64encode(bytes(range(32))).decode()


def test_up_with_a_key_serves_the_codec_and_points_the_ui_at_it(tmp_path: Path) -> None:
    codec_port = free_port()
    env = stack_env(tmp_path / "data", NOSHOW_ENCRYPTION_KEY=KEY, NOSHOW_CODEC_PORT=str(codec_port))
    ui = f"http://127.0.0.1:{env['NOSHOW_TEMPORAL_UI_PORT']}"
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen([noshow_bin(), "up"], env=env, stdout=log, stderr=subprocess.STDOUT,
                          start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{env['NOSHOW_API_PORT']}/ready", 120, up)
        wait_http(f"http://127.0.0.1:{codec_port}/health", 30, up)
        wait_http(f"{ui}/api/v1/settings", 60, up)
        settings = httpx.get(f"{ui}/api/v1/settings", timeout=5).json()
        assert settings["Codec"]["Endpoint"] == f"http://127.0.0.1:{codec_port}"

        body = {"payloads": [{"metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                              "data": base64.b64encode(b'"hello"').decode()}]}
        encoded = httpx.post(f"http://127.0.0.1:{codec_port}/encode", json=body, headers={"Origin": ui}, timeout=5)
        assert encoded.status_code == 200 and encoded.headers["access-control-allow-origin"] == ui
        decoded = httpx.post(f"http://127.0.0.1:{codec_port}/decode", json=encoded.json(), headers={"Origin": ui},
                             timeout=5)
        assert decoded.json()["payloads"][0]["data"] == body["payloads"][0]["data"]
        foreign = httpx.post(f"http://127.0.0.1:{codec_port}/decode", json=encoded.json(),
                             headers={"Origin": "http://evil.example"}, timeout=5)
        assert foreign.status_code == 403
    finally:
        stop(up)
        log.close()
    assert not port_open("127.0.0.1", codec_port)
