"""Which cases know which addresses: every case records its contact's normalised addresses (as opaque keys) when
it starts, before it sends anything. A reply routes by it (also before the engine has written), and a STOP from
an address reaches every case of every contact that uses that address."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from connectors.local.db import Conn, LocalDb


def _note_appointment(conn: Conn, case_id: str, program: str, start: datetime) -> None:
    conn.execute("INSERT INTO case_appointments (case_id, program, start_at) VALUES (?, ?, ?) "
                 "ON CONFLICT (case_id) DO UPDATE SET program = excluded.program, start_at = excluded.start_at",
                 (case_id, program, start.astimezone(UTC).isoformat()))


class AddressBook:
    def __init__(self, db: LocalDb) -> None:
        self.db = db

    def remember(self, case_id: str, contact_key: str, address_keys: Iterable[str], at: datetime | None = None,
                 appointment: tuple[str, datetime] | None = None) -> None:
        """The case's address keys and, with `appointment` (program, start), its appointment too, in one
        transaction: a case's intake pays for one commit, not two."""
        when = (at or datetime.now(UTC)).astimezone(UTC).isoformat()
        with self.db.connect(immediate=True) as conn:
            for key in address_keys:
                conn.execute("INSERT OR IGNORE INTO case_addresses (address_key, case_id, contact_key, at) "
                             "VALUES (?, ?, ?, ?)", (key, case_id, contact_key, when))
            if appointment is not None:
                _note_appointment(conn, case_id, *appointment)

    def remember_appointment(self, case_id: str, program: str, start: datetime) -> None:
        """The case's appointment time (the latest the engine heard of) and its program."""
        with self.db.connect(immediate=True) as conn:
            _note_appointment(conn, case_id, program, start)

    def appointments_for_address(self, address_key: str) -> list[tuple[str, str, datetime]]:
        """(case id, program, appointment start) of every case that knows this address, newest start first."""
        with self.db.connect() as conn:
            rows = conn.execute("SELECT a.case_id, p.program, p.start_at FROM case_addresses a "
                                "JOIN case_appointments p ON p.case_id = a.case_id WHERE a.address_key = ? "
                                "ORDER BY p.start_at DESC, a.case_id DESC", (address_key,)).fetchall()
        return [(str(r[0]), str(r[1]), datetime.fromisoformat(str(r[2]))) for r in rows]

    def appointments_for_case(self, case_id: str) -> list[tuple[str, str, datetime]]:
        with self.db.connect() as conn:
            row = conn.execute("SELECT case_id, program, start_at FROM case_appointments WHERE case_id = ?",
                               (case_id,)).fetchone()
        return [(str(row[0]), str(row[1]), datetime.fromisoformat(str(row[2])))] if row else []

    def cases_for_address(self, address_key: str) -> list[str]:
        """Cases that know this address, newest first."""
        with self.db.connect() as conn:
            # the case id breaks a tie in time on every backend (Postgres has no rowid)
            rows = conn.execute("SELECT case_id FROM case_addresses WHERE address_key = ? ORDER BY at DESC, "
                                "case_id DESC", (address_key,)).fetchall()
        return [str(r[0]) for r in rows]

    def contact_keys(self, address_key: str) -> list[str]:
        with self.db.connect() as conn:
            rows = conn.execute("SELECT DISTINCT contact_key FROM case_addresses WHERE address_key = ?",
                                (address_key,)).fetchall()
        return [str(r[0]) for r in rows]

    def contact_key_of_case(self, case_id: str) -> str | None:
        with self.db.connect() as conn:
            row = conn.execute("SELECT contact_key FROM case_addresses WHERE case_id = ? LIMIT 1",
                               (case_id,)).fetchone()
        return str(row[0]) if row else None

    def cases_of_contacts(self, contact_keys: Iterable[str]) -> list[str]:
        """Every case of these contacts, newest first."""
        keys = sorted(set(contact_keys))
        if not keys:
            return []
        marks = ", ".join("?" for _ in keys)
        with self.db.connect() as conn:
            rows = conn.execute(f"SELECT case_id, MAX(at) AS last FROM case_addresses WHERE contact_key IN ({marks}) "
                                "GROUP BY case_id ORDER BY last DESC", keys).fetchall()
        return [str(r[0]) for r in rows]
