"""Builders shared by the policy tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.models import Appointment, AttendanceSignal, Contact, SignalKind

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York


def appt(**overrides: Any) -> Appointment:
    contact = overrides.pop("contact", None) or Contact(contact_id="c-1", timezone="America/New_York")
    start = overrides.pop("start", START)
    data: dict[str, Any] = {
        "source": "local",
        "appointment_id": "a-1",
        "appointment_type": "consultation",
        "calendar_id": "main",
        "start": start,
        "end": start + timedelta(minutes=30),
        "contact": contact,
    }
    data.update(overrides)
    return Appointment(**data)


def sig(kind: SignalKind, value: str | None = None, at: datetime | None = None, **kw: Any) -> AttendanceSignal:
    return AttendanceSignal(kind=kind, value=value, at=at or START + timedelta(minutes=40), source="test", **kw)


AFTER = START + timedelta(hours=2)


def default_program(policy):  # type: ignore[no-untyped-def]
    """The shipped policy's general-purpose program (the file may hold others, such as a demo one)."""
    return next(p for p in policy.programs if p.name == "default")
