"""Production mode refuses to start with development secrets, a loopback public URL while providers are
configured, or plaintext history, one line per problem naming what to set; `noshow connectors check` reports the
same problems as errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.deploy.production_env import SAFE, apply
from workers.cli.main import app
from workers.production import SHIPPED_POLICY, production_problems
from workers.settings import DEV_WEBHOOK_SECRET, Settings, get_settings


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)  # no .env from the machine
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def problems_with(monkeypatch: pytest.MonkeyPatch, **changes: str | None) -> list[str]:
    env = {**SAFE, **{k: v for k, v in changes.items() if v is not None}}
    for name, value in changes.items():
        if value is None:
            env.pop(name)
    apply(monkeypatch, env)
    return production_problems(Settings())


def test_a_complete_production_configuration_has_nothing_to_refuse(monkeypatch: pytest.MonkeyPatch) -> None:
    assert problems_with(monkeypatch) == []


@pytest.mark.parametrize(("changes", "names"), [
    ({"NOSHOW_WEBHOOK_SECRET": DEV_WEBHOOK_SECRET}, "NOSHOW_WEBHOOK_SECRET"),
    ({"NOSHOW_WEBHOOK_SECRET": None}, "NOSHOW_WEBHOOK_SECRET"),
    ({"NOSHOW_REVIEWER_TOKENS": None}, "NOSHOW_REVIEWER_TOKENS"),
    ({"NOSHOW_ADMIN_TOKEN": "dev-admin-token"}, "NOSHOW_ADMIN_TOKEN"),
    ({"NOSHOW_LINK_SECRET": None}, "NOSHOW_LINK_SECRET"),
    ({"NOSHOW_ID_SALT": None}, "NOSHOW_ID_SALT"),
    ({"NOSHOW_PUBLIC_BASE_URL": "http://127.0.0.1:8000"}, "NOSHOW_PUBLIC_BASE_URL"),
    ({"NOSHOW_PUBLIC_BASE_URL": "http://localhost:8000"}, "NOSHOW_PUBLIC_BASE_URL"),
    ({"NOSHOW_PUBLIC_BASE_URL": None}, "NOSHOW_PUBLIC_BASE_URL"),
    ({"NOSHOW_PUBLIC_BASE_URL": "http://noshow.example.com"}, "NOSHOW_PUBLIC_BASE_URL"),
    ({"NOSHOW_ENCRYPTION_KEY": None}, "NOSHOW_ENCRYPTION_KEY"),
    ({"TEMPORAL_ADDRESS": None}, "TEMPORAL_ADDRESS"),
    ({"NOSHOW_DATABASE_URL": None}, "NOSHOW_DATABASE_URL"),
    ({"NOSHOW_ADMIN_TOKEN": ""}, "NOSHOW_ADMIN_TOKEN is empty"),
    ({"NOSHOW_WEBHOOK_SECRET": f"{SAFE['NOSHOW_WEBHOOK_SECRET']},{DEV_WEBHOOK_SECRET}"},
     "NOSHOW_WEBHOOK_SECRET still lists the development default"),
    ({"NOSHOW_REVIEWER_TOKENS": "real-token=a@example.com:*,dev-reviewer-token=b@example.com:*"},
     "NOSHOW_REVIEWER_TOKENS still lists the development default"),
    ({"NOSHOW_ID_SALT": ""}, "NOSHOW_ID_SALT is empty"),
    ({"NOSHOW_POLICY_FILE": None}, "NOSHOW_POLICY_FILE is unset"),
    ({"NOSHOW_POLICY_FILE": str(SHIPPED_POLICY)}, "NOSHOW_POLICY_FILE names the shipped default"),
    ({"NOSHOW_GOHIGHLEVEL_DEMO_SIGNING_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="},
     "NOSHOW_GOHIGHLEVEL_DEMO_SIGNING_KEY is set"),
], ids=lambda v: "-".join(f"{k}={'unset' if x is None else 'dev'}" for k, x in v.items()) if isinstance(v, dict)
    else v)
def test_each_unsafe_setting_is_one_refusal_naming_it(monkeypatch: pytest.MonkeyPatch,
                                                      changes: dict[str, str | None], names: str) -> None:
    found = problems_with(monkeypatch, **changes)
    assert len(found) == 1, found
    assert found[0].startswith(names), found


def test_a_loopback_url_is_refused_only_when_a_provider_must_reach_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert problems_with(monkeypatch, NOSHOW_PUBLIC_BASE_URL="http://127.0.0.1:8000", TWILIO_AUTH_TOKEN=None) == []
    found = problems_with(monkeypatch, NOSHOW_PUBLIC_BASE_URL="http://[::1]:8000", TWILIO_AUTH_TOKEN=None,
                          NOSHOW_EMAIL_PROVIDER="sendgrid")
    assert len(found) == 1 and "sendgrid" in found[0]


def test_plaintext_history_is_allowed_only_when_waived_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    assert problems_with(monkeypatch, NOSHOW_ENCRYPTION_KEY=None, NOSHOW_ALLOW_PLAINTEXT_HISTORY="true") == []


def test_development_mode_refuses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert problems_with(monkeypatch, NOSHOW_ENV="development", NOSHOW_ENCRYPTION_KEY=None,
                         NOSHOW_ADMIN_TOKEN=None, NOSHOW_PUBLIC_BASE_URL=None) == []


def test_no_refusal_prints_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    found = problems_with(monkeypatch, NOSHOW_PUBLIC_BASE_URL="http://127.0.0.1:8000", NOSHOW_ADMIN_TOKEN=None)
    assert len(found) == 2
    text = "\n".join(found)
    assert all(value not in text for value in ("twilio-auth-token", "dev-admin-token", SAFE["NOSHOW_ID_SALT"]))


@pytest.mark.parametrize("command", ["worker", "api"])
def test_the_worker_and_the_api_refuse_before_they_start(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str], command: str) -> None:
    apply(monkeypatch, {**SAFE, "NOSHOW_ADMIN_TOKEN": "dev-admin-token", "NOSHOW_ENCRYPTION_KEY": ""})
    # an unroutable Temporal: had either tried to connect first, it would hang here rather than exit
    monkeypatch.setenv("TEMPORAL_ADDRESS", "192.0.2.1:7233")
    from workers.api.app import main as api_main
    from workers.worker import main as worker_main

    with pytest.raises(SystemExit) as exited:
        {"worker": worker_main, "api": api_main}[command]()
    assert exited.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("error: refusing to start the") and "NOSHOW_ADMIN_TOKEN" in lines[0]
    assert "NOSHOW_ENCRYPTION_KEY" in lines[1]


def test_noshow_up_refuses_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    apply(monkeypatch, {**SAFE, "NOSHOW_LINK_SECRET": "noshow-local-link-secret"})
    result = CliRunner().invoke(app, ["up"])
    assert result.exit_code == 2
    assert "NOSHOW_LINK_SECRET is the development default" in result.output


def test_connectors_check_reports_the_same_problems_as_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    apply(monkeypatch, {**SAFE, "NOSHOW_PUBLIC_BASE_URL": "http://127.0.0.1:8000", "NOSHOW_ENCRYPTION_KEY": ""})
    expected = production_problems(Settings())
    result = CliRunner().invoke(app, ["connectors", "check", "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    production = [c["detail"] for c in report["settings"] if c["name"] == "production"]
    assert production == expected and len(expected) == 2
    assert all(c["status"] == "error" for c in report["settings"] if c["name"] == "production")


def test_connectors_check_passes_a_complete_production_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    apply(monkeypatch, SAFE)
    result = CliRunner().invoke(app, ["connectors", "check", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["errors"] == 0


def test_in_development_a_loopback_url_with_providers_is_named_but_not_an_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    apply(monkeypatch, {"TWILIO_AUTH_TOKEN": "twilio-auth-token"})
    result = CliRunner().invoke(app, ["connectors", "check", "--json"])
    notes = [c for c in json.loads(result.output)["settings"] if c["name"] == "public-url"]
    assert result.exit_code == 0 and notes and "twilio cannot reach it" in notes[0]["detail"]


@pytest.mark.e2e
def test_the_installed_command_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    env = {k: v for k, v in SAFE.items() if k != "NOSHOW_ENCRYPTION_KEY"}
    out = subprocess.run([str(Path(sys.executable).parent / "noshow"), "worker"], env={"PATH": "/usr/bin:/bin",
                         "HOME": str(tmp_path), **env}, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: refusing to start the worker in production: " + production_problems_line("NOSHOW_ENCRYPTION_KEY")]


def production_problems_line(name: str) -> str:
    return next(p for p in _problems_without(name) if p.startswith(name))


def _problems_without(name: str) -> list[str]:
    mp = pytest.MonkeyPatch()
    try:
        apply(mp, {k: v for k, v in SAFE.items() if k != name})
        return production_problems(Settings())
    finally:
        mp.undo()
