"""A malformed setting stops every entry point with one line naming the variable and the expected format, exit
code non-zero, no traceback, and never the value itself (it may be the encryption key)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workers.cli.main import app
from workers.settings import get_settings

SECRET = "c2VjcmV0LWtleS1tYXRlcmlhbA"  # what an operator pasted: it must reach no output
MALFORMED = {
    "no key id": SECRET,
    "not base64": f"k1:{SECRET}*!",
    "too short": "k1:" + base64.b64encode(SECRET.encode()[:16]).decode(),
    "bad key id": f"{SECRET} id:" + base64.b64encode(bytes(32)).decode(),
    "second entry": "k1:" + base64.b64encode(bytes(32)).decode() + f",{SECRET}",
}
EXPECTED = "kid:BASE64KEY"


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NOSHOW_SETTINGS_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("NOSHOW_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def assert_clear(output: str) -> None:
    assert "Traceback" not in output and "input_value" not in output
    assert SECRET not in output and SECRET[:12] not in output
    lines = [line for line in output.splitlines() if "NOSHOW_ENCRYPTION_KEY" in line]
    assert len(lines) == 1 and EXPECTED in lines[0], output


@pytest.mark.parametrize("value", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("command", [["settings"], ["connectors", "check"], ["connectors", "check", "--json"],
                                     ["review", "list"]])
def test_every_command_names_the_key_and_its_format(monkeypatch: pytest.MonkeyPatch, value: str,
                                                    command: list[str]) -> None:
    monkeypatch.setenv("NOSHOW_ENCRYPTION_KEY", value)
    result = CliRunner().invoke(app, command)
    assert result.exit_code != 0 and not isinstance(result.exception, ValueError)
    assert_clear(result.output)
    if command[-1] == "--json":
        assert EXPECTED in json.loads(result.output)["settings"][0]["detail"]


def test_a_well_formed_key_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOSHOW_ENCRYPTION_KEY", "k1:" + base64.b64encode(bytes(range(32))).decode())
    result = CliRunner().invoke(app, ["settings"])
    assert result.exit_code == 0 and "NOSHOW_ENCRYPTION_KEY" not in result.output


@pytest.mark.e2e
@pytest.mark.parametrize("entry", [["noshow", "connectors", "check"], ["noshow", "worker"], ["noshow", "api"],
                                   ["-m", "workers.worker"], ["-m", "workers.api.app"]])
def test_the_processes_refuse_to_start_without_a_traceback(tmp_path: Path, entry: list[str]) -> None:
    argv = [str(Path(sys.executable).parent / "noshow"), *entry[1:]] if entry[0] == "noshow" else [sys.executable,
                                                                                                   *entry]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NOSHOW_SETTINGS_FILE": str(tmp_path / "absent.env"),
           "NOSHOW_DATA_DIR": str(tmp_path / "data"), "NOSHOW_ENCRYPTION_KEY": MALFORMED["not base64"]}
    out = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert_clear(out.stdout + out.stderr)
