"""docker-compose.yml parses, and its services, images, build and commands name things that exist."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.main import get_command

from workers.cli.main import app
from workflows import search_attributes as sa

ROOT = Path(__file__).resolve().parent.parent
KNOWN_IMAGES = {"postgres", "temporalio/auto-setup", "temporalio/admin-tools", "temporalio/ui"}


def compose() -> dict[str, object]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def test_compose_has_the_production_stack() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    assert {"postgresql", "temporal", "temporal-ui", "worker", "api"} <= set(services)
    for name, svc in services.items():
        image = svc.get("image")
        if image:
            repo, _, tag = image.partition(":")
            assert repo in KNOWN_IMAGES, f"{name}: unexpected image {image}"
            assert tag and re.fullmatch(r"[0-9][0-9.]*", tag), f"{name}: pin a version tag, not {tag!r}"
        else:
            assert svc.get("build") == ".", f"{name}: needs an image or build"
        for dep in svc.get("depends_on", []):
            assert dep in services, f"{name} depends on unknown service {dep}"
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: bind published ports to 127.0.0.1"


def test_engine_services_run_commands_the_cli_has() -> None:
    services = compose()["services"]
    group = get_command(app)
    for name in ("worker", "api"):
        cmd = services[name]["command"]  # type: ignore[index]
        found = group.get_command(None, cmd[1])  # type: ignore[attr-defined, arg-type]
        assert cmd[0] == "noshow" and found is not None, f"{name}: `{' '.join(cmd)}` is not a noshow command"
    dockerfile = (ROOT / "Dockerfile").read_text()
    for folder in ("domain", "policies", "workflows", "activities", "connectors", "workers", "reporting"):
        assert f"COPY {folder} {folder}" in dockerfile
        assert (ROOT / folder).is_dir()


def test_compose_registers_every_search_attribute() -> None:
    admin = " ".join(compose()["services"]["temporal-admin-tools"]["command"])  # type: ignore[index]
    for key in sa.ALL:
        assert f"--name {key.name}" in admin, f"{key.name} is not registered in docker-compose.yml"
