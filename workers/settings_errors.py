"""One line for settings that cannot be read, naming each variable and why, never its value.

pydantic's own message quotes the input (`input_value='...'`), and a setting may be a secret (the encryption key,
a token), so every entry point that loads the settings (each `noshow` command, the worker, the API) reports a
refusal through here instead of printing the exception."""

from __future__ import annotations

import sys
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsError

from workers.settings import Settings, get_settings


def _env_prefix(title: str) -> str:
    """The env prefix of the section a ValidationError came from (its title is the section's class name)."""
    for spec in Settings.model_fields.values():
        cls = spec.annotation
        if isinstance(cls, type) and issubclass(cls, BaseSettings) and cls.__name__ == title:
            return str(cls.model_config.get("env_prefix") or "")
    return ""


def settings_problem(exc: ValidationError, prefix: str | None = None) -> str:
    """"VARIABLE: reason; ..." from the variable names and pydantic's reasons only."""
    env_prefix = _env_prefix(exc.title) if prefix is None else prefix

    def env(loc: tuple[Any, ...]) -> str:
        field = ".".join(str(p) for p in loc) or "settings"
        return field if field.isupper() or field == "settings" else f"{env_prefix}{field}".upper()

    return "; ".join(f"{env(e['loc'])}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors())


def unreadable(exc: Exception) -> str | None:
    """Why the settings could not be read, or None when `exc` is not a settings error."""
    if isinstance(exc, ValidationError):
        return settings_problem(exc)
    if isinstance(exc, SettingsError):  # a JSON-valued variable that is not JSON; the message names the field only
        return f"{exc}; the variable must hold JSON"
    return None


def settings_or_exit(what: str) -> Settings:
    """The process's settings, or one line on stderr and exit code 2 (for the worker and the API processes)."""
    try:
        return get_settings()
    except (ValidationError, SettingsError) as exc:
        print(f"error: cannot start the {what}: invalid settings: {unreadable(exc)}", file=sys.stderr)
        raise SystemExit(2) from None
