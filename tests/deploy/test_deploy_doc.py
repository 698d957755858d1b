"""docs/deploy.md as an operator follows it: every command in its shell blocks is either marked as needing a tool
or service this machine lacks (`# needs: ...`), or run here, in order, in a fresh folder, and does what the page
says; the generated secrets fill .env and `noshow connectors check` then answers `no errors` in production mode."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.variables import env_file_keys

pytestmark = [pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
NEEDS = re.compile(r"#\s*needs: (docker|kubernetes|temporal-cloud|prometheus)\s*$")
GENERATORS = {
    "whsec": """python3 -c "import base64,os; print('whsec_' + base64.b64encode(os.urandom(32)).decode())\"""",
    "key": """python3 -c "import base64,os; print('k1:' + base64.b64encode(os.urandom(32)).decode())\"""",
    "token": 'python3 -c "import secrets; print(secrets.token_hex(32))"',
}
CHECK = ("TEMPORAL_ADDRESS=temporal:7233 NOSHOW_POLICY_FILE=policy.yaml "
         "NOSHOW_DATABASE_URL=postgresql+psycopg://noshow@postgresql:5432/noshow .venv/bin/noshow connectors check")
RUN_HERE = {
    "cp .env.example .env", "cp policies/defaults/default.yaml policy.yaml",
    ".venv/bin/noshow policy check policy.yaml", CHECK,
    "cp .env.example deploy/k8s/secrets.env", "cp policy.yaml deploy/k8s/policy.yaml", *GENERATORS.values(),
}


def doc_commands() -> list[str]:
    text = (ROOT / "docs" / "deploy.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_every_command_is_run_here_or_marked_with_what_it_needs() -> None:
    commands = doc_commands()
    assert commands
    unmarked = [c for c in commands if not NEEDS.search(c)]
    assert set(unmarked) <= RUN_HERE, f"not exercised and not marked: {sorted(set(unmarked) - RUN_HERE)}"
    assert set(unmarked) >= RUN_HERE, f"the test runs commands the page no longer has: {RUN_HERE - set(unmarked)}"


def test_following_the_page_gives_a_configuration_production_accepts(tmp_path: Path) -> None:
    work = tmp_path / "checkout"
    (work / "policies" / "defaults").mkdir(parents=True)
    (work / "deploy" / "k8s").mkdir(parents=True)
    shutil.copy(ROOT / ".env.example", work / ".env.example")
    shutil.copy(ROOT / "policies" / "defaults" / "default.yaml", work / "policies" / "defaults" / "default.yaml")
    (work / ".venv").symlink_to(ROOT / ".venv")
    shell_env = {k: v for k, v in os.environ.items() if not k.startswith(("NOSHOW_", "TEMPORAL_", "TWILIO_"))}

    outputs: dict[str, str] = {}
    for command in (c for c in doc_commands() if not NEEDS.search(c)):
        if command == CHECK:
            fill_env(work, outputs)
        done = subprocess.run(["bash", "-c", command], cwd=work, env=shell_env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
        outputs[command] = done.stdout.strip()
    assert outputs[CHECK].endswith("no errors")
    assert "NOSHOW_ENV=production" in (work / ".env").read_text().splitlines()
    assert outputs[GENERATORS["whsec"]].startswith("whsec_") and outputs[GENERATORS["key"]].startswith("k1:")
    assert (work / "deploy" / "k8s" / "secrets.env").read_text() == (ROOT / ".env.example").read_text()
    assert (work / "deploy" / "k8s" / "policy.yaml").is_file()


def fill_env(work: Path, outputs: dict[str, str]) -> None:
    """What the page asks the operator to do by hand: every empty value of .env from the generators' output."""
    token = outputs[GENERATORS["token"]]
    values = {"NOSHOW_WEBHOOK_SECRET": outputs[GENERATORS["whsec"]],
              "NOSHOW_ENCRYPTION_KEY": outputs[GENERATORS["key"]],
              "NOSHOW_REVIEWER_TOKENS": f"{token[:32]}=reviewer@example.com:*", "NOSHOW_OWNER_TOKENS": "",
              "NOSHOW_PUBLIC_BASE_URL": "https://noshow.example.com"}
    empty = [k for k, v in env_file_keys(work / ".env").items() if not v]
    text = (work / ".env").read_text()
    for key in empty:
        text = re.sub(rf"^{key}=$", f"{key}={values.get(key, token)}", text, flags=re.M)
    (work / ".env").write_text(text)
