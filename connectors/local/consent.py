"""The consent ledger: per subject (an opaque contact key, or the key of a normalised address), channel and
purpose, with evidence. The pre-send check reads it live, for the contact and for the address it writes to.

Every change goes through `opt_out` or `opt_in` here, whoever noticed it (a STOP reply, a carrier refusal, a
provider's unsubscribe or bounce), so the rules of what an opt-out means live in one place. An opt-out of every
channel follows the person: the addresses the engine has seen booked together with the opted-out address are
opted out in the same transaction (policies/consent_links.py decides which), so a booking in another system
that carries only the person's email is stopped by their phone's STOP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from connectors.local.db import Conn, LocalDb, lock_key
from connectors.local.send_intents import subject_lock
from policies.consent_links import linked_addresses
from policies.schema import OptOutScope


def linked_event_id(event_id: str, address_key: str) -> str:
    """The id of the opt-out an event caused on a linked address: stable, so a re-delivery records nothing."""
    return f"{event_id}>{address_key}"


class ConsentLedger:
    def __init__(self, db: LocalDb, scope: Callable[[], OptOutScope] = OptOutScope) -> None:
        self.db = db
        self.scope = scope  # read at each opt-out: the policy file may change while the process runs

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
        follows = status == "opted_out" and channel == "*"
        with self.db.connect(immediate=True) as conn:
            linked = sorted(linked_addresses(self._bookings(conn, contact_key), self._scope())) if follows else []
            # a send reserving for one of these subjects waits, or is seen; taken in one order, so two opt-outs
            # of one person's phone and email at once cannot wait on each other
            for key in sorted({contact_key, *linked}):
                lock_key(conn, subject_lock(key))
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
            for key in linked:
                self._write(conn, linked_event_id(event_id, key), key, evidence, evidence_channel, when)
            if status == "opted_in" and channel == "*":
                # START re-subscribes every channel the contact had stopped
                conn.execute(
                    "UPDATE consent SET status = 'opted_in', evidence = ?, at = ? WHERE contact_key = ?",
                    (evidence, when, contact_key),
                )
        return not was_out

    def carry_to_booking(self, case_id: str, address_keys: list[str], at: datetime | None = None) -> int:
        """A new booking carries an address already opted out of every channel together with others: the person
        who withdrew consent is still the one being written to, so the rule reaches the booking's other addresses
        too (once per booking). Returns how many addresses it opted out."""
        when = (at or datetime.now(UTC)).astimezone(UTC).isoformat()
        # every booking passes here: the common answer (nobody opted out) costs a read, not a write lock
        with self.db.connect() as conn:
            if not self._opted_out_of_all(conn, address_keys):
                return 0
        scope = self._scope()
        with self.db.connect(immediate=True) as conn:
            out = self._opted_out_of_all(conn, address_keys)
            reach = {k: linked_addresses(self._bookings(conn, k), scope) for k in out}
            targets = sorted({t for linked in reach.values() for t in linked if t in address_keys} - set(out))
            for key in targets:
                lock_key(conn, subject_lock(key))
            for key in targets:
                cause = next(k for k in out if key in reach[k])
                self._write(conn, linked_event_id(f"{case_id}:{cause}", key), key, "opted out with a linked address",
                            None, when)
        return len(targets)

    @staticmethod
    def _opted_out_of_all(conn: Conn, address_keys: list[str]) -> list[str]:
        return [k for k in address_keys if conn.execute(
            "SELECT 1 FROM consent WHERE contact_key = ? AND channel = '*' AND purpose = '*' "
            "AND status = 'opted_out'", (k,)).fetchone() is not None]

    def _scope(self) -> OptOutScope:
        try:
            return self.scope()
        except Exception:  # an opt-out is never lost to an unreadable policy file: the shipped rule applies
            return OptOutScope()

    @staticmethod
    def _bookings(conn: Conn, address_key: str) -> list[frozenset[str]]:
        """The other address keys of each case that knew this address (none for a contact key)."""
        rows = conn.execute("SELECT o.case_id, o.address_key FROM case_addresses a JOIN case_addresses o "
                            "ON o.case_id = a.case_id AND o.address_key != a.address_key WHERE a.address_key = ?",
                            (address_key,)).fetchall()
        cases: dict[str, set[str]] = {}
        for row in rows:
            cases.setdefault(str(row[0]), set()).add(str(row[1]))
        return [frozenset(keys) for _, keys in sorted(cases.items())]

    @staticmethod
    def _write(conn: Conn, event_id: str, subject_key: str, evidence: str | None, evidence_channel: str | None,
               when: str) -> None:
        """A linked address's opt-out of every channel, once per causing event."""
        cur = conn.execute(
            "INSERT INTO consent_events (event_id, contact_key, channel, purpose, status, evidence, at) "
            "VALUES (?, ?, '*', '*', 'opted_out', ?, ?) ON CONFLICT (event_id) DO NOTHING",
            (event_id, subject_key, evidence, when))
        if cur.rowcount:
            conn.execute(
                "INSERT INTO consent (contact_key, channel, purpose, status, evidence, evidence_channel, at) "
                "VALUES (?, '*', '*', 'opted_out', ?, ?, ?) ON CONFLICT (contact_key, channel, purpose) DO UPDATE "
                "SET status = excluded.status, evidence = excluded.evidence, "
                "evidence_channel = excluded.evidence_channel, at = excluded.at",
                (subject_key, evidence, evidence_channel, when))

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

