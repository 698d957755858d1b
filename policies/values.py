"""What a missed appointment is worth when its source sends no price: the program's default for its type, so
lost revenue risk is never silently zero."""

from __future__ import annotations

from fnmatch import fnmatchcase

from domain.models import Appointment
from policies.schema import Program


def default_value(program: Program, appointment_type: str) -> float | None:
    """The first matching pattern's value (exact names before patterns), or None."""
    values = program.default_values
    if appointment_type in values:
        return values[appointment_type]
    for pattern, value in values.items():
        if fnmatchcase(appointment_type.lower(), pattern.lower()):
            return value
    return None


def with_default_value(program: Program, appointment: Appointment) -> Appointment:
    """The appointment with the program's default value when it carries none (a price of 0 is "not sent")."""
    if appointment.value > 0:
        return appointment
    value = default_value(program, appointment.appointment_type)
    return appointment if value is None else appointment.model_copy(update={"value": value})
