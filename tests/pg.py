"""A throw-away PostgreSQL server for the tests: `initdb` into a temporary directory, `pg_ctl start` on a free
127.0.0.1 port (no Unix socket), one database per caller, and a stop by the server's own process id.

Where `initdb` is not installed the tests that need it skip and say why. As root (containers), the server runs
as the unprivileged `postgres` (or `nobody`) user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

PG_USER = "noshow"


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))  # Debian/Ubuntu keep them off PATH
    return candidates[-1] if candidates else None


def missing_reason() -> str | None:
    """Why a Postgres server cannot be started here, or None when it can."""
    if _binary("initdb") is None or _binary("pg_ctl") is None:
        return "PostgreSQL is not installed (initdb/pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin)"
    if os.geteuid() == 0 and _run_as() is None:
        return "running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the psycopg driver is not installed (pip install 'psycopg[binary]')"
    return None


def _run_as() -> pwd.struct_passwd | None:
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="noshow-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self.pid: int | None = None
        self.user = _run_as() if os.geteuid() == 0 else None

    def _run(self, argv: list[str], timeout: float = 120) -> None:
        kwargs: dict[str, object] = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        subprocess.run(argv, check=True, capture_output=True, timeout=timeout, env=env, cwd=self.root,
                       **kwargs)  # type: ignore[call-overload]

    def start(self) -> None:
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self._run([str(_binary("initdb")), "-D", str(self.data), "-U", PG_USER, "--auth=trust", "--no-sync",
                   "--encoding=UTF8", "--locale=C"])
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories='' "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run([str(_binary("pg_ctl")), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                   "-t", "60", "start"])
        self.pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])

    def create_database(self, name: str | None = None) -> str:
        """A new empty database on this server; returns its SQLAlchemy URL."""
        import psycopg

        name = name or f"db_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={PG_USER} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGINT)  # "fast" shutdown of the server we started
                for _ in range(200):
                    os.kill(self.pid, 0)
                    time.sleep(0.05)
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pid = None
        shutil.rmtree(self.root, ignore_errors=True)


def start_or_skip() -> PostgresServer:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    server = PostgresServer()
    try:
        server.start()
    except subprocess.CalledProcessError as exc:
        server.stop()
        # installed but failing is a real problem: say what the tools said instead of skipping
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr.decode(errors='replace')[-2000:]}") from exc
    except BaseException:
        server.stop()
        raise
    return server
