"""Drive /dashboard in headless Chromium (Debian's `chromium`), save a phone-sized screenshot, read the DOM."""

from __future__ import annotations

import fcntl
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from reporting.dashboard import dashboard_router, display
from reporting.ledger import Ledger
from reporting.metrics import build_report

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def chromium() -> str:
    """The chromium binary; installed once with apt-get if missing, else the test is skipped with the reason."""
    found = shutil.which("chromium") or (Path("/usr/bin/chromium").exists() and "/usr/bin/chromium")
    if found:
        return str(found)
    if shutil.which("apt-get") is None:
        pytest.skip("chromium is not installed and apt-get is not available to install it")
    # parallel test workers each ask for it: one installs while the others wait on the lock, then find it
    with open(Path(tempfile.gettempdir()) / "noshow-tests-chromium.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = shutil.which("chromium")
        if found:
            return found
        try:
            result = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
                                    capture_output=True, text=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"chromium is not installed and apt-get could not run: {exc}")
    found = shutil.which("chromium")
    if result.returncode != 0 or not found:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        pytest.skip(f"chromium is not installed and `apt-get install chromium` failed "
                    f"(needs root and network): {tail[0]}")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(demo_ledger: Ledger) -> Iterator[str]:
    app = FastAPI()
    app.include_router(dashboard_router(lambda: demo_ledger))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start within 20 s")
        time.sleep(0.02)  # polling the started flag, bounded by the deadline
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _chromium(binary: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=412,915", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_dashboard_in_headless_chromium(chromium: str, served: str, demo_ledger: Ledger, tmp_path: Path) -> None:
    url = f"{served}/dashboard?by=channel"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    shot.unlink(missing_ok=True)
    result = _chromium(chromium, tmp_path, f"--screenshot={shot}", url)
    assert shot.exists(), f"no screenshot; chromium said: {result.stderr[-2000:]}"
    data = shot.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (412, 915)

    dom = _chromium(chromium, tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert "No-show recovery" in html
    report = build_report(demo_ledger, by="channel")
    # every KPI and every grouped cell the page shows carries the report's number, as data and as text
    cells = re.findall(r'data-metric="(\w+)" data-group="([^"]*)" data-value="([^"]*)">([^<]*)<', html)
    assert len(cells) > 60
    rows = {r.group: r.values for r in [*report.groups, report.total]}
    for metric, group, value, text in cells:
        expected = rows[unescape(group)][metric]
        assert value == ("" if expected is None else str(expected)), (metric, group)
        assert unescape(text) == display(metric, expected), (metric, group)
    assert ">Recovered bookings<" in html and 'data-metric="recovered" data-group="total" data-value="2">2<' in html
    assert 'data-metric="lost_revenue_risk" data-group="total" data-value="350.0">350.00<' in html
    assert 'data-reason="pick_slot" data-value="1"' in html
