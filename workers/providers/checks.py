"""What `noshow connectors check` (and start-up) report per connector: ok, off or error, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit


@dataclass
class ProviderCheck:
    name: str
    status: Literal["ok", "off", "error"]
    detail: str  # names variables, never their values


def url_problem(value: str, what: str) -> str | None:
    """Why `value` is not an absolute http(s) URL, or None. No network: format only."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"{what} must be an absolute http(s) URL"
    return None


class ProviderConfigError(ValueError):
    """A selected provider is missing a secret or has a malformed setting (names the variables, never values)."""


class ProbeProblem(Exception):
    """What a live probe found wrong, in the engine's own words (names variables and HTTP statuses only)."""
