"""The WhatsApp customer-service window of each phone number, as the engine last saw it.

An inbound WhatsApp message opens the window for 24 hours; Twilio refusing free text as outside the window
(error 63016, https://www.twilio.com/docs/api/errors/63016) closes it until the next inbound message, so a
clock skew or a message the engine never saw cannot make it send free text twice into a closed window.
Subjects are address keys (keyed hashes of the E.164 number): the table holds no phone number.
"""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.local.db import LocalDb


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


class WhatsAppWindows:
    def __init__(self, db: LocalDb) -> None:
        self.db = db

    def record_inbound(self, address_key: str, at: datetime) -> None:
        """The customer wrote on WhatsApp at `at` (a late re-delivery of an older message never moves it back)."""
        when = _iso(at)
        with self.db.connect(immediate=True) as conn:
            row = conn.execute("SELECT last_inbound_at FROM whatsapp_windows WHERE address_key = ?",
                               (address_key,)).fetchone()
            if row is None:
                conn.execute("INSERT INTO whatsapp_windows (address_key, last_inbound_at) VALUES (?, ?) "
                             "ON CONFLICT (address_key) DO NOTHING", (address_key, when))
            elif row[0] is None or str(row[0]) < when:
                conn.execute("UPDATE whatsapp_windows SET last_inbound_at = ? WHERE address_key = ?",
                             (when, address_key))

    def record_refusal(self, address_key: str, at: datetime) -> None:
        """Twilio refused free text to this number as outside the window."""
        when = _iso(at)
        with self.db.connect(immediate=True) as conn:
            conn.execute("INSERT INTO whatsapp_windows (address_key, refused_at) VALUES (?, ?) "
                         "ON CONFLICT (address_key) DO UPDATE SET refused_at = excluded.refused_at",
                         (address_key, when))

    def last_inbound(self, address_key: str) -> datetime | None:
        """The last inbound message that still counts: None when there is none, or a refusal came after it."""
        with self.db.connect() as conn:
            row = conn.execute("SELECT last_inbound_at, refused_at FROM whatsapp_windows WHERE address_key = ?",
                               (address_key,)).fetchone()
        if row is None or row[0] is None:
            return None
        if row[1] is not None and str(row[1]) >= str(row[0]):
            return None
        return datetime.fromisoformat(str(row[0]))
