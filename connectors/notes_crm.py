"""The base of a CRM adapter for a system that takes the case's notes but has no outcome fields the engine maps
(the field-service systems): fields read as none and are kept only in the local audit copy, tasks stay local
unless the adapter says otherwise, and bookings are not recorded remotely."""

from __future__ import annotations

from datetime import datetime


class NotesOnlyCrm:
    def read_fields(self, contact_id: str, appointment_id: str) -> dict[str, str | None]:
        return {}

    def write_fields(self, contact_id: str, appointment_id: str, fields: dict[str, str | None],
                     idempotency_key: str) -> None:
        return None

    def append_note(self, contact_id: str, note: str, idempotency_key: str) -> None:
        raise NotImplementedError

    def create_task(self, owner_id: str | None, title: str, idempotency_key: str, *,
                    contact_id: str | None = None) -> None:
        return None

    def record_booking(self, contact_id: str, start: datetime, end: datetime, title: str,
                       idempotency_key: str) -> str | None:
        return None
