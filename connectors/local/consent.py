"""The consent ledger: per subject (an opaque contact key, or the key of a normalised address), channel and
purpose, with evidence. The pre-send check reads it live, for the contact and for the address it writes to.

Every change goes through `opt_out` or `opt_in` here, whoever noticed it (a STOP reply, a carrier refusal, a
provider's unsubscribe or bounce), so the rules of what an opt-out means live in one place."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.local.db import LocalDb, lock_key
from connectors.local.send_intents import subject_lock


class ConsentLedger:
    def __init__(self, db: LocalDb) -> None:
        self.db = db

    def opt_out(self, event_id: str, contact_key: str, channel: str = "*", evidence: str | None = None,
                evidence_channel: str | None = None, at: datetime | None = None) -> bool:
        """The contact stops messages on `channel` ("*": every channel) for every purpose. False when this event
        was already recorded (a re-delivered STOP)."""
        return self._record(event_id, contact_key, "opted_out", channel, "*", evidence, evidence_channel, at)

    def opt_out_newly(self, event_id: str, subject_key: str, evidence: str | None = None,
                      evidence_channel: str | None = None, at: datetime | None = None) -> bool:
        """opt_out of every channel; True only when this event opted the subject out (it was not out of every
        channel already): what earns a confirmation, decided in the same transaction as the write, so two
        STOPs at once confirm once."""
        return self._record(event_id, subject_key, "opted_out", "*", "*", evidence, evidence_channel, at,
                            only_if_new=True)

    def opt_in(self, event_id: str, contact_key: str, evidence: str | None = None,
               evidence_channel: str | None = None, at: datetime | None = None) -> bool:
        """START: the contact is subscribed again on every channel they had stopped."""
        return self._record(event_id, contact_key, "opted_in", "*", "*", evidence, evidence_channel, at)

    def _record(self, event_id: str, contact_key: str, status: str, channel: str, purpose: str,
                evidence: str | None, evidence_channel: str | None, at: datetime | None,
                only_if_new: bool = False) -> bool:
        when = (at or datetime.now(UTC)).astimezone(UTC).isoformat()
        with self.db.connect(immediate=True) as conn:
            lock_key(conn, subject_lock(contact_key))  # a send reserving for this subject waits, or is seen
            was_out = only_if_new and conn.execute(
                "SELECT 1 FROM consent WHERE contact_key = ? AND channel = '*' AND purpose = '*' "
                "AND status = 'opted_out'", (contact_key,)).fetchone() is not None
            cur = conn.execute(
                "INSERT OR IGNORE INTO consent_events "
                "(event_id, contact_key, channel, purpose, status, evidence, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (event_id, contact_key, channel, purpose, status, evidence, when),
            )
            if cur.rowcount == 0:
                return False
            conn.execute(
                "INSERT OR REPLACE INTO consent "
                "(contact_key, channel, purpose, status, evidence, evidence_channel, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (contact_key, channel, purpose, status, evidence, evidence_channel, when),
            )
            if status == "opted_in" and channel == "*":
                # START re-subscribes every channel the contact had stopped
                conn.execute(
                    "UPDATE consent SET status = 'opted_in', evidence = ?, at = ? WHERE contact_key = ?",
                    (evidence, when, contact_key),
                )
        return not was_out

    def opted_out_channels(self, contact_key: str, purpose: str = "informational") -> set[str]:
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT channel FROM consent WHERE contact_key = ? AND status = 'opted_out' AND purpose IN (?, '*')",
                (contact_key, purpose),
            ).fetchall()
        return {r[0] for r in rows}

    def is_blocked(self, contact_key: str, channel: str, purpose: str = "informational") -> bool:
        chans = self.opted_out_channels(contact_key, purpose)
        return "*" in chans or channel in chans

