"""Temporal Cloud and TLS settings: `connectors check` names what a Cloud address lacks, and the client's TLS
configuration is built from the certificate files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.service import TLSConfig
from typer.testing import CliRunner

from tests.deploy.production_env import apply
from workers.cli.main import app
from workers.settings import TemporalSettings, get_settings
from workers.temporal.connection import connection_problems, tls_config

CLOUD = "noshow-prod.a1b2c.tmprl.cloud:7233"


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    apply(monkeypatch, {})
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def pem(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    return path


def test_a_cloud_address_without_a_key_or_certificates_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    apply(monkeypatch, {"TEMPORAL_ADDRESS": CLOUD, "TEMPORAL_NAMESPACE": "noshow-prod.a1b2c"})
    result = CliRunner().invoke(app, ["connectors", "check", "--json"])
    assert result.exit_code == 1
    [check] = json.loads(result.output)["temporal"]
    assert check["status"] == "error" and "TEMPORAL_API_KEY" in check["detail"]


def test_a_cloud_address_with_an_api_key_is_ok_and_the_key_is_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    apply(monkeypatch, {"TEMPORAL_ADDRESS": CLOUD, "TEMPORAL_NAMESPACE": "noshow-prod.a1b2c",
                        "TEMPORAL_API_KEY": "tmprl-key-value"})
    result = CliRunner().invoke(app, ["connectors", "check"])
    assert result.exit_code == 0, result.output
    assert "Temporal Cloud" in result.output and "API key" in result.output
    assert "tmprl-key-value" not in result.output


def test_a_cloud_namespace_must_carry_the_account_id() -> None:
    problems = connection_problems(TemporalSettings(address=CLOUD, api_key="k", namespace="default"))
    assert problems == ["TEMPORAL_NAMESPACE must be the Cloud namespace id (<namespace>.<account id>)"]


def test_mtls_needs_both_files_and_they_must_exist(tmp_path: Path) -> None:
    cert = pem(tmp_path, "client.pem")
    only_cert = connection_problems(TemporalSettings(address=CLOUD, namespace="n.acct", tls_client_cert_path=cert))
    assert any("go together" in p for p in only_cert)
    missing = connection_problems(TemporalSettings(address=CLOUD, namespace="n.acct", tls_client_cert_path=cert,
                                                   tls_client_key_path=tmp_path / "absent.key"))
    assert missing == ["TEMPORAL_TLS_CLIENT_KEY_PATH names no readable file"]


def test_credentials_without_an_address_or_with_tls_off_are_errors() -> None:
    assert any("TEMPORAL_ADDRESS is not" in p for p in connection_problems(TemporalSettings(api_key="k")))
    assert any("need TLS" in p for p in connection_problems(
        TemporalSettings(address="temporal:7233", api_key="k", tls=False)))


def test_the_client_tls_configuration_comes_from_the_files(tmp_path: Path) -> None:
    cert, key, ca = pem(tmp_path, "c.pem"), pem(tmp_path, "k.pem"), pem(tmp_path, "ca.pem")
    built = tls_config(TemporalSettings(address=CLOUD, tls_client_cert_path=cert, tls_client_key_path=key,
                                        tls_server_ca_cert_path=ca, tls_server_name="temporal.internal"))
    assert isinstance(built, TLSConfig)
    assert built.client_cert == cert.read_bytes() and built.client_private_key == key.read_bytes()
    assert built.server_root_ca_cert == ca.read_bytes() and built.domain == "temporal.internal"
    assert tls_config(TemporalSettings(address=CLOUD, api_key="k")) is True  # an API key: TLS, system roots
    assert tls_config(TemporalSettings(address="temporal:7233")) is False
