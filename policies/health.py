"""Which appointment sources hold health data: their appointments cross into the engine with the fields it needs
only (times, status, opaque ids, contact telecom), never a treatment's or procedure's name."""

from __future__ import annotations

HEALTH_SOURCES: frozenset[str] = frozenset({"fhir", "jane", "dentrix"})

# Mindbody serves fitness and wellness businesses; a practice that uses it for care opts in with a setting.
OPT_IN_HEALTH_SOURCES: frozenset[str] = frozenset({"mindbody"})


def health_sources(opted_in: frozenset[str] = frozenset()) -> frozenset[str]:
    """The health sources of a deployment: the fixed set plus the opt-in sources it declared as health."""
    return HEALTH_SOURCES | (opted_in & OPT_IN_HEALTH_SOURCES)


def is_health_source(source: str, opted_in: frozenset[str] = frozenset()) -> bool:
    return source in health_sources(opted_in)
