"""Health data stays minimal: the sources that hold patients' records, and the checks built on them.

An appointment from an EHR or a practice system carries health information in its reason, service type and
procedure names ("Major depressive disorder", "Root canal"). Only what the engine needs crosses into it: the
appointment's times, its opaque ids, an opaque or generic type, and the patient's phone and email. The connectors
of these sources never pass a diagnosis, reason code, service type or procedure name on (`minimal_type` keeps only the
generic labels); workflow payloads of a program watching one are
encrypted even when no key was configured (the worker's data converter); and its replies are classified by a
model on this host or not at all (`reply_model_problem`).

A program watches a health source when its `match.sources` names one, or when it matches every source (`*`)
and a health source is one of `connected` (approved in the policy and configured in this deployment).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from policies.schema import PolicyFile

HEALTH_SOURCES: frozenset[str] = frozenset({"fhir", "jane", "dentrix"})

# Mindbody serves fitness and wellness businesses; a practice that uses it for care opts in with a setting.
OPT_IN_HEALTH_SOURCES: frozenset[str] = frozenset({"mindbody"})

# the only appointment types a health source hands the engine: no clinical wording
GENERIC_TYPES: frozenset[str] = frozenset({"appointment", "visit", "telehealth_visit", "other"})

_LOCAL_HOSTS = frozenset({"localhost", "localhost.localdomain"})


def health_sources(opted_in: frozenset[str] = frozenset()) -> frozenset[str]:
    """The health sources of a deployment: the fixed set plus the opt-in sources it declared as health."""
    return HEALTH_SOURCES | (opted_in & OPT_IN_HEALTH_SOURCES)


def is_health_source(source: str, opted_in: frozenset[str] = frozenset()) -> bool:
    return source in health_sources(opted_in)


def watched_health_sources(policy: PolicyFile, connected: Iterable[str] = ()) -> dict[str, list[str]]:
    """Program name -> the health sources it watches (programs that watch none are left out)."""
    approved = {rule.source for rule in policy.sources} & HEALTH_SOURCES
    live = approved & set(connected)
    watched: dict[str, list[str]] = {}
    for program in policy.programs:
        named = set(program.match.sources)
        found = (named & HEALTH_SOURCES) | (live if "*" in named else set())
        if found:
            watched[program.name] = sorted(found)
    return watched


def watches_health(policy: PolicyFile, connected: Iterable[str] = ()) -> bool:
    return bool(watched_health_sources(policy, connected))


def is_local_url(url: str) -> bool:
    """True for a URL on this host or a private network (a model served beside the engine)."""
    try:
        host = (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return False
    if not host:
        return False
    if host in _LOCAL_HOSTS or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private


def reply_model_problem(model_url: str | None, policy: PolicyFile, connected: Iterable[str] = ()) -> str | None:
    """Why this reply model must not be used (None when it may): a program watching a health source may only send
    replies to a model on this host or the private network, never to a remote service."""
    if not model_url or is_local_url(model_url):
        return None
    watched = watched_health_sources(policy, connected)
    if not watched:
        return None
    programs = ", ".join(f"{name} ({'/'.join(sources)})" for name, sources in sorted(watched.items()))
    return (f"NOSHOW_REPLY_MODEL_URL is not a local address, but programs watching a health source ({programs}) "
            "may only use a reply model served on this host or the private network: point it at a local model, "
            "or unset it to classify replies with the rules alone")


def minimal_type(source: str, appointment_type: str) -> str:
    """The appointment type an event from `source` may carry: a health source's only if it is one of the generic
    labels, else `appointment` (its own types name services and procedures); other sources' unchanged."""
    if not is_health_source(source):
        return appointment_type
    text = appointment_type.strip().lower()
    return text if text in GENERIC_TYPES else "appointment"
