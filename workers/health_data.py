"""What this deployment owes the health sources it watches (policies/health.py holds the rule).

- Payloads are encrypted by default: a program watching a health source with no NOSHOW_ENCRYPTION_KEY set gets a
  key generated once into the data directory (`health-payload.key`, mode 0600), which the worker, the API and the
  codec server of one host share. Several hosts need the one NOSHOW_ENCRYPTION_KEY, and production mode asks for
  it (NOSHOW_ALLOW_PLAINTEXT_HISTORY does not waive it for health data).
- The reply model must be local: a remote NOSHOW_REPLY_MODEL_URL is refused at start.
A health source is connected when its connector is configured (FHIR: NOSHOW_FHIR_BASE_URL).
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from connectors.settings import secret
from policies.health import reply_model_problem, watched_health_sources
from policies.loader import load_policy
from policies.schema import PolicyFile
from workers.settings import Settings

KEY_FILE = "health-payload.key"
KEY_ID = "health1"


def connected_health_sources(s: Settings) -> set[str]:
    return {"fhir"} if (s.fhir.base_url or "").strip() else set()


def _policy(s: Settings) -> PolicyFile | None:
    try:
        return load_policy(s.policy.file)
    except (OSError, ValueError):
        return None  # the policy check reports it; here an unreadable policy is read as "may watch one"


def watched(s: Settings) -> dict[str, list[str]]:
    """Program name -> the health sources it watches."""
    policy, connected = _policy(s), connected_health_sources(s)
    if policy is None:
        return {"(unreadable policy)": sorted(connected)} if connected else {}
    return watched_health_sources(policy, connected)


def _key_file(s: Settings) -> str:
    path = Path(s.storage.data_dir) / KEY_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = f"{KEY_ID}:{base64.b64encode(secrets.token_bytes(32)).decode()}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of this host made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(spec)
    return spec


def payload_key(s: Settings) -> str | None:
    """NOSHOW_ENCRYPTION_KEY, else the host's generated key when a program watches a health source, else None."""
    configured = secret(s.temporal.encryption_key)
    if configured:
        return configured
    return _key_file(s) if watched(s) else None


def health_problems(s: Settings) -> list[str]:
    """Why this configuration must not start, whatever the mode (empty when it may)."""
    policy = _policy(s)
    problems: list[str] = []
    if policy is not None:
        refused = reply_model_problem(s.reply_model.url, policy, connected_health_sources(s))
        if refused:
            problems.append(refused)
    if s.deploy.production and watched(s) and not secret(s.temporal.encryption_key):
        problems.append("NOSHOW_ENCRYPTION_KEY is unset but programs watch a health source: set one key shared by "
                        "every process (NOSHOW_ALLOW_PLAINTEXT_HISTORY does not apply to health data)")
    return problems
