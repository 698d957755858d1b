"""The base of every settings section: read from the environment and the same `.env` file, secrets masked.

Each connector declares the section it needs (its variables and their defaults) beside its code; the engine's
one settings object (`workers.settings.Settings`) gathers them, so everything is read once, from one place.
"""

from __future__ import annotations

import os

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SETTINGS_FILE = os.environ.get("NOSHOW_SETTINGS_FILE", ".env")


class EnvSection(BaseSettings):
    """One concern's settings. `populate_by_name` lets code and tests pass fields by name when a field reads a
    differently named variable (a `validation_alias`)."""

    model_config = SettingsConfigDict(env_file=SETTINGS_FILE, extra="ignore", populate_by_name=True)


def secret(value: SecretStr | str | None) -> str | None:
    """A secret's value without surrounding whitespace (a token pasted with a trailing newline still works), or
    None when it is unset or blank. The one way the engine reads a secret."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else (value or "")
    return raw.strip() or None
