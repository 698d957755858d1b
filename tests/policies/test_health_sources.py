"""The health sources: FHIR, Jane and Dentrix always; Mindbody only when a deployment declares it a health
practice. The shipped policy watches the partner-fed health sources, so their signed canonical events start
cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import policies
from domain.models import Appointment, Contact
from policies.health import HEALTH_SOURCES, health_sources, is_health_source
from policies.loader import load_policy, source_ignore_reason

SHIPPED = Path(policies.__file__).parent / "defaults" / "default.yaml"


def test_mindbody_is_health_data_only_when_the_deployment_says_so() -> None:
    assert {"fhir", "jane", "dentrix"} <= HEALTH_SOURCES and "mindbody" not in HEALTH_SOURCES
    assert not is_health_source("mindbody")
    assert is_health_source("mindbody", frozenset({"mindbody"}))
    assert "calcom" not in health_sources(frozenset({"calcom"}))  # only an opt-in source can be opted in


def test_the_shipped_policy_watches_the_partner_fed_health_sources_and_mindbody() -> None:
    policy = load_policy(str(SHIPPED))
    start = datetime(2026, 1, 6, 15, tzinfo=UTC)
    for source in ("jane", "dentrix", "mindbody"):
        appointment = Appointment(source=source, appointment_id="1", appointment_type=f"{source}_appointment",
                                  calendar_id="7", start=start, end=start + timedelta(minutes=30),
                                  contact=Contact(contact_id=f"{source}:42"))
        assert source_ignore_reason(policy, appointment) is None, source
