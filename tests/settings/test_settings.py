"""One settings object: every section from the environment or the same .env file, secrets read one way and
never printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner

from connectors.settings import secret
from workers.cli.main import app
from workers.settings import Settings, get_settings

TOKENS = ("NOSHOW_TASK_QUEUE", "TEMPORAL_ADDRESS", "NOSHOW_CALCOM_API_KEY", "TWILIO_AUTH_TOKEN", "SENDGRID_API_KEY",
          "NOSHOW_PUBLIC_BASE_URL", "NOSHOW_RECONCILE_EVERY_MINUTES", "NOSHOW_ADMIN_TOKEN", "NOSHOW_SMS_PROVIDER")


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in TOKENS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # the .env read is the one each test writes, not the machine's


def test_variables_land_in_their_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOSHOW_TASK_QUEUE", "cases-eu")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.internal:7233")
    monkeypatch.setenv("NOSHOW_CALCOM_API_KEY", "cal_live_1")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "tw-token")
    monkeypatch.setenv("NOSHOW_PUBLIC_BASE_URL", "https://noshow.example.com")
    monkeypatch.setenv("NOSHOW_RECONCILE_EVERY_MINUTES", "5")
    s = Settings()
    assert s.temporal.task_queue == "cases-eu" and s.temporal.target == "temporal.internal:7233"
    assert not s.temporal.embedded
    assert secret(s.calcom.api_key) == "cal_live_1" and secret(s.twilio.auth_token) == "tw-token"
    assert s.api.public_base_url == "https://noshow.example.com" and s.reconcile.every.total_seconds() == 300


def test_the_env_file_is_honoured_by_every_section(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("NOSHOW_TASK_QUEUE=from-file\nTWILIO_AUTH_TOKEN=file-token\n"
                                   "SENDGRID_API_KEY=SG.file\nNOSHOW_SMS_PROVIDER=twilio\n")
    s = Settings()
    assert s.temporal.task_queue == "from-file" and s.routing.sms_provider == "twilio"
    assert secret(s.twilio.auth_token) == "file-token" and secret(s.sendgrid.api_key) == "SG.file"


def test_a_secret_with_a_trailing_newline_reads_the_same_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOSHOW_CALCOM_API_KEY", "cal_live_1\n")
    assert secret(Settings().calcom.api_key) == "cal_live_1"
    assert secret(SecretStr("  ")) is None and secret(None) is None and secret("x ") == "x"


def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOSHOW_SMS_PROVIDER", "pigeon")
    with pytest.raises(ValidationError, match="sms_provider"):
        Settings()


def test_an_unknown_section_is_refused_not_ignored() -> None:
    with pytest.raises(ValidationError, match="encryption_key"):
        Settings(encryption_key="k1:abc")  # type: ignore[call-arg]


def test_noshow_settings_masks_every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOSHOW_ADMIN_TOKEN", "super-secret-admin")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "tw-token-value")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["settings"])
        one = CliRunner().invoke(app, ["settings", "twilio"])
        unknown = CliRunner().invoke(app, ["settings", "nope"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert "super-secret-admin" not in result.output and "tw-token-value" not in result.output
    assert shown["auth"]["admin_token"] == "(set)" and shown["twilio"]["auth_token"] == "(set)"
    assert shown["auth"]["webhook_secret"].startswith("(development default")
    assert shown["temporal"]["task_queue"] == "noshow-cases"
    assert list(json.loads(one.output)) == ["twilio"]
    assert unknown.exit_code == 2 and "no settings section" in unknown.output
