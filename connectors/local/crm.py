"""SQLite CRM: contacts, appointment outcome fields, notes, tasks. Every field write records before/after.

Protected fields are refused here too, as a second line behind the policy's write plan.
"""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.local.db import LocalDb, lock_key
from domain.models import Contact

UPSERT_FIELD = "ON CONFLICT (contact_id, appointment_id, field) DO UPDATE SET value = excluded.value"


class ProtectedFieldError(PermissionError):
    pass


class LocalCrm:
    def __init__(self, db: LocalDb, protected_fields: list[str] | None = None) -> None:
        self.db = db
        self.protected = {f.lower() for f in (protected_fields or [])}

    def upsert_contact(self, contact: Contact) -> None:
        with self.db.connect() as conn:
            conn.execute(
                "INSERT INTO contacts (contact_id, name, phone, email, timezone, locale) VALUES (?, ?, ?, ?, ?, ?) "
                # a source that knows less (a no-show report with only an email) must not erase what we know
                "ON CONFLICT(contact_id) DO UPDATE SET name = COALESCE(excluded.name, contacts.name), "
                "phone = COALESCE(excluded.phone, contacts.phone), email = COALESCE(excluded.email, contacts.email), "
                "timezone = COALESCE(excluded.timezone, contacts.timezone), locale = excluded.locale",
                (contact.contact_id, contact.name, contact.phone, contact.email, contact.timezone, contact.locale),
            )

    def contact(self, contact_id: str) -> Contact | None:
        with self.db.connect() as conn:
            row = conn.execute("SELECT * FROM contacts WHERE contact_id = ?", (contact_id,)).fetchone()
        if not row:
            return None
        return Contact(contact_id=row["contact_id"], name=row["name"], phone=row["phone"], email=row["email"],
                       timezone=row["timezone"], locale=row["locale"] or "en")

    def seed_field(self, contact_id: str, appointment_id: str, field: str, value: str | None) -> None:
        """Data owned by people (owner notes, billing status): written by seeding, never by the engine."""
        with self.db.connect() as conn:
            conn.execute(
                "INSERT INTO crm_fields (contact_id, appointment_id, field, value) VALUES (?, ?, ?, ?) " + UPSERT_FIELD,
                (contact_id, appointment_id, field, value),
            )

    def read_fields(self, contact_id: str, appointment_id: str) -> dict[str, str | None]:
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT field, value FROM crm_fields WHERE contact_id = ? AND appointment_id = ?",
                (contact_id, appointment_id),
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    def write_fields(self, contact_id: str, appointment_id: str, fields: dict[str, str | None],
                     idempotency_key: str) -> None:
        bad = sorted(f for f in fields if f.lower() in self.protected)
        if bad:
            raise ProtectedFieldError("refusing to write protected fields: " + ", ".join(bad))
        now = datetime.now(UTC).isoformat()
        with self.db.connect(immediate=True) as conn:
            lock_key(conn, f"crm-write:{idempotency_key}")  # a retry racing the first attempt waits, then sees it
            done = conn.execute("SELECT 1 FROM crm_writes WHERE idempotency_key = ? LIMIT 1",
                                (idempotency_key,)).fetchone()
            if done:
                return
            for field, value in fields.items():
                row = conn.execute(
                    "SELECT value FROM crm_fields WHERE contact_id = ? AND appointment_id = ? AND field = ?",
                    (contact_id, appointment_id, field),
                ).fetchone()
                conn.execute(
                    "INSERT INTO crm_fields (contact_id, appointment_id, field, value) VALUES (?, ?, ?, ?) "
                    + UPSERT_FIELD,
                    (contact_id, appointment_id, field, value),
                )
                conn.execute(
                    "INSERT INTO crm_writes (idempotency_key, contact_id, appointment_id, field, before, after, at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (idempotency_key, contact_id, appointment_id, field, row[0] if row else None, value, now),
                )

    def append_note(self, contact_id: str, note: str, idempotency_key: str) -> None:
        with self.db.connect() as conn:
            conn.execute(
                "INSERT INTO crm_notes (idempotency_key, contact_id, note, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (idempotency_key, contact_id, note, datetime.now(UTC).isoformat()),
            )

    def create_task(self, owner_id: str | None, title: str, idempotency_key: str, *,
                    contact_id: str | None = None) -> None:
        with self.db.connect() as conn:
            conn.execute(
                "INSERT INTO crm_tasks (idempotency_key, owner_id, title, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (idempotency_key, owner_id, title, datetime.now(UTC).isoformat()),
            )
