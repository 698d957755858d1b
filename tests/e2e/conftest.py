"""Helpers for tests that run the real processes (`noshow up`, the worker, the dev server) as subprocesses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def noshow_bin() -> str:
    return str(Path(sys.executable).parent / "noshow")


def stack_env(data_dir: Path, **extra: str) -> dict[str, str]:
    api_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOSHOW_", "TEMPORAL_"))}
    env.update({
        "NOSHOW_DATA_DIR": str(data_dir),
        "NOSHOW_TEMPORAL_PORT": str(free_port()),
        "NOSHOW_TEMPORAL_UI_PORT": str(free_port()),
        "NOSHOW_API_PORT": str(api_port),
        "NOSHOW_PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}",
        "NOSHOW_LOG_FORMAT": "json",
        # the tests read a webhook's effects from its answer: wait for them however loaded the machine is
        "NOSHOW_API_ACK_SECONDS": "30",
        **extra,
    })
    return env


def wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} while waiting for {url}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout}s")


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGINT, timeout: float = 30) -> None:
    """Stop a process we started, by its pid; escalate to SIGKILL of its group if it lingers."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
