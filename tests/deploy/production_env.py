"""A production configuration with nothing to refuse, for tests that take one thing away from it."""

from __future__ import annotations

import base64
import os

import pytest

KEY = "k1:" + base64.b64encode(bytes(range(32))).decode()
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"a production webhook secret 0001").decode()

SAFE: dict[str, str] = {
    "NOSHOW_ENV": "production",
    "NOSHOW_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "NOSHOW_REVIEWER_TOKENS": "rev-prod-token=reviewer@example.com:*",
    "NOSHOW_ADMIN_TOKEN": "admin-prod-token",
    "NOSHOW_LINK_SECRET": "link-prod-secret",
    "NOSHOW_ID_SALT": "prod-salt",
    "NOSHOW_ENCRYPTION_KEY": KEY,
    "TEMPORAL_ADDRESS": "temporal.internal:7233",
    "NOSHOW_PUBLIC_BASE_URL": "https://noshow.example.com",
    "TWILIO_AUTH_TOKEN": "twilio-auth-token",
    "NOSHOW_POLICY_FILE": "/etc/noshow/policy.yaml",
    "NOSHOW_DATABASE_URL": "postgresql+psycopg://noshow:pw@db.internal:5432/noshow",
}
PREFIXES = ("NOSHOW_", "TEMPORAL_", "TWILIO_", "SENDGRID_", "SLACK_")


def apply(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Exactly `env` for the engine's variables: nothing inherited from the machine."""
    for name in list(os.environ):
        if name.startswith(PREFIXES):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
