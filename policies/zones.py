"""Time zones from names: the one resolver for a contact's zone, a program's default zone and a provider's zone.

Names come from untrusted places (webhook payloads, CRM records, replies), so resolving never raises: a name that
is absent, malformed or unknown resolves to None, and `zone_or` falls back to the program's default, then UTC.
Only IANA-style names are accepted ("America/New_York", "UTC", "Etc/GMT+5"): zoneinfo would also read relative
paths, directories and non-zone files under its search path, and "localtime" names whatever zone the host is set
to, which differs from one worker to the next.

Pure and deterministic (workflow code calls the policies): the answer depends only on the name and the installed
time zone database, and lookups, failed ones included, are cached per process.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC_ZONE = ZoneInfo("UTC")

# the longest IANA name is 32 characters; anything much longer is not a zone (and stays out of the cache)
MAX_NAME_LENGTH = 64
_NAME = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*")
_HOST_DEPENDENT = frozenset({"localtime"})


def is_zone_name(name: object) -> TypeGuard[str]:
    """Whether `name` has the shape of an IANA zone name (it may still be unknown to the database)."""
    return (isinstance(name, str) and len(name) <= MAX_NAME_LENGTH and _NAME.fullmatch(name) is not None
            and name not in _HOST_DEPENDENT)


def zone_of(name: str | None) -> ZoneInfo | None:
    """The zone called `name`, or None when it is absent, not an IANA-style name or unknown. Never raises."""
    return _load(name) if is_zone_name(name) else None


def zone_or(name: str | None, default: str) -> ZoneInfo:
    """The zone called `name`; else the zone called `default` (a program's default zone); else UTC."""
    return zone_of(name) or zone_of(default) or UTC_ZONE


@lru_cache(maxsize=512)
def _load(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # unknown, not a TZif file, a directory, a bad path
        return None
