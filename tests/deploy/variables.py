"""Every environment variable the settings object reads, derived from its sections (not a copied list)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from workers.settings import Settings

# read before the settings object exists: which .env file the sections read
OUTSIDE_SETTINGS = {"NOSHOW_SETTINGS_FILE"}
NOSHOW_NAME = re.compile(r"\bNOSHOW_[A-Z0-9_]+\b")


def setting_variables() -> set[str]:
    names = set(OUTSIDE_SETTINGS)
    for spec in Settings.model_fields.values():
        section = spec.annotation
        assert isinstance(section, type) and issubclass(section, BaseSettings)
        prefix = str(section.model_config.get("env_prefix") or "")
        for name, field in section.model_fields.items():
            alias = field.validation_alias
            if isinstance(alias, str):
                names.add(alias.upper())
            elif isinstance(alias, AliasChoices):
                names.update(str(choice).upper() for choice in alias.choices)
            else:
                names.add(f"{prefix}{name}".upper())
    return names


def noshow_names_in(path: Path) -> set[str]:
    return set(NOSHOW_NAME.findall(path.read_text()))


def env_file_keys(path: Path) -> dict[str, str]:
    """KEY=value lines of a dotenv file (comments and blank lines skipped)."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=value: {line!r}"
            out[key.strip()] = value.strip()
    return out
