"""Free-text appointment types become keys the policy names, before anything stores them.

Providers let people type the type: Calendly's event name ("Meeting with Jane Doe"), a Cal.com title
("Consultation - Jane Doe"). The type ends up in search attributes, ledger dimensions, dashboard labels and
metrics, which must carry no personal data, so only a name the approved policy itself uses survives; anything
else is `other`. Decisions are unchanged: a rule that matched the raw text by a specific name matches the key, and
one written `*` matches everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Any

from domain.models import AppointmentEvent
from policies.schema import PolicyFile

OTHER = "other"
ALWAYS_KNOWN = frozenset({OTHER, "unknown", "-"})  # the connectors' and the reply ledger's own placeholders
_GLOB = re.compile(r"[*?\[]")
_WORDS = re.compile(r"[a-z0-9]+")


def _named(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("appointment_types", "ignore_types") and isinstance(value, list):
                yield from (v for v in value if isinstance(v, str))
            elif key == "appointment_type" and isinstance(value, str):
                yield value
            else:
                yield from _named(value)
    elif isinstance(node, list):
        for item in node:
            yield from _named(item)


def named_types(policy: PolicyFile) -> tuple[list[str], list[str]]:
    """(literal type names, glob patterns other than `*`) the policy uses anywhere."""
    names = {n for n in _named(policy.model_dump(mode="json")) if n and n != "*"}
    return sorted(n for n in names if not _GLOB.search(n)), sorted(n for n in names if _GLOB.search(n))


def known_appointment_type(policy: PolicyFile, raw: str) -> str:
    """The policy's own name for `raw`: the literal it names (also ignoring case, or as the first words of a
    longer title: "Consultation - Jane" is a consultation), a pattern it names that matches, else `other`."""
    if raw in ALWAYS_KNOWN:
        return raw
    literals, patterns = named_types(policy)
    if raw in literals:
        return raw
    folded = raw.casefold()
    for name in literals:
        if folded == name.casefold():
            return name
    for pattern in patterns:
        if fnmatchcase(raw, pattern):
            return pattern
    words = _WORDS.findall(folded)
    for name in sorted(literals, key=len, reverse=True):
        head = _WORDS.findall(name.casefold())
        if head and words[:len(head)] == head:
            return name
    return OTHER


def with_known_type(policy: PolicyFile, event: AppointmentEvent) -> AppointmentEvent:
    appt = event.appointment
    key = known_appointment_type(policy, appt.appointment_type)
    if key == appt.appointment_type:
        return event
    return event.model_copy(update={"appointment": appt.model_copy(update={"appointment_type": key})})
