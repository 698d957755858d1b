"""`noshow users`: add (password from stdin, hashed), list, token within the user's reach, disable; bad input is a
message and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.local.db import LocalDb
from workers.api.auth.store import AuthStore

NOSHOW = str(Path(sys.executable).parent / "noshow")


def run(tmp: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NOSHOW_DATA_DIR": str(tmp / "data"), "NOSHOW_SETTINGS_FILE": str(tmp / "none.env")}
    return subprocess.run([NOSHOW, "users", *args], input=stdin, capture_output=True, text=True, env=env,
                          timeout=60, cwd=tmp)


@pytest.mark.slow  # nine CLI runs
def test_users_add_list_token_disable(tmp_path: Path) -> None:
    added = run(tmp_path, "add", "ana@example.com", "--role", "owner", "--programs", "default",
                "--password-stdin", stdin="correct horse battery staple\n")
    assert added.returncode == 0, added.stderr
    assert "ana@example.com" not in added.stdout and added.stdout.startswith("added u-")
    listed = run(tmp_path, "list")
    assert "ana@example.com\towner\tdefault\tactive" in listed.stdout
    too_high = run(tmp_path, "token", "ana@example.com", "--role", "admin")
    assert too_high.returncode != 0 and "higher role" in too_high.stderr and "Traceback" not in too_high.stderr
    token = run(tmp_path, "token", "ana@example.com", "--role", "reviewer").stdout.strip()
    store = AuthStore(LocalDb(tmp_path / "data" / "local.db"))
    who = store.token_principal(token)
    assert who is not None and who.role == "reviewer" and who.programs == {"default"}
    short = run(tmp_path, "add", "bo@example.com", "--password-stdin", stdin="short\n")
    bad_role = run(tmp_path, "add", "cy@example.com", "--role", "root", "--password-stdin",
                   stdin="correct horse battery staple\n")
    duplicate = run(tmp_path, "add", "ana@example.com", "--password-stdin", stdin="correct horse battery staple\n")
    for failed in (short, bad_role, duplicate):
        assert failed.returncode != 0 and failed.stderr.startswith("error:") and "Traceback" not in failed.stderr
    assert run(tmp_path, "disable", "ana@example.com").returncode == 0
    assert store.token_principal(token) is None
    assert "disabled" in run(tmp_path, "list").stdout
    assert run(tmp_path, "disable", "nobody").returncode != 0
