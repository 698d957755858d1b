"""The ledger's tables. Opaque ids and categorical labels only: there is no column for a name, phone or email.

Kept in step with `migrations/versions/`; a test compares the two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Float, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from reporting.facts import FLAG_COLUMNS, WATCH_FLAG_COLUMNS


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC on every backend (SQLite has no time zones); read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value  # naive means UTC throughout this package
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        at: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return at.replace(tzinfo=UTC)


metadata = MetaData()

ledger_events = Table(
    "ledger_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),  # arrival order, breaks ties on `at`
    Column("event_id", String(200), nullable=False, unique=True),  # the idempotency key
    Column("case_id", String(200), nullable=False),
    Column("type", String(40), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("source", String(64), nullable=False),
    Column("appointment_type", String(100), nullable=False),
    Column("kind", String(32)),
    Column("owner_id", String(200)),
    Column("location_id", String(200)),
    Column("channel", String(16)),
    Column("template_id", String(200)),
    Column("segment", String(64)),
    Column("arm", String(200)),
    Column("value", Float, nullable=False, server_default="0"),
    Column("outcome", String(64)),
    Column("reason", Text),
    Column("data", JSON, nullable=False),
    Column("program", String(200)),  # the policy program's name (migration 0003); NULL: not known
    Index("ix_ledger_events_case", "case_id", "seq"),
    Index("ix_ledger_events_type_reason", "type", "reason", "case_id"),  # reply reasons
    Index("ix_ledger_events_at", "at"),
)

DIMENSION_COLUMNS = (
    "week", "source", "appointment_type", "owner_id", "location_id", "channel", "template_id", "segment", "arm",
    "program",
)

case_facts = Table(
    "case_facts",
    metadata,
    Column("case_id", String(200), primary_key=True),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("week", String(10), nullable=False),
    Column("source", String(64)),
    Column("appointment_type", String(100)),
    Column("owner_id", String(200)),
    Column("location_id", String(200)),
    Column("kind", String(32)),
    Column("segment", String(64)),
    Column("arm", String(200)),
    Column("channel", String(16)),
    Column("template_id", String(200)),
    Column("verdict", String(64)),
    Column("outcome", String(64)),
    Column("closed", Integer, nullable=False),
    Column("value", Float, nullable=False),
    Column("ignored", Integer, nullable=False),
    Column("ignore_reason", Text),
    Column("messages_sent", Integer, nullable=False),
    Column("messages_delivered", Integer, nullable=False),
    Column("messages_failed", Integer, nullable=False),
    Column("replies", Integer, nullable=False),
    Column("opted_out", Integer, nullable=False),
    Column("slots_offered", Integer, nullable=False),
    Column("rebooked", Integer, nullable=False),
    Column("minutes_to_rebook", Float),
    Column("kept", Integer, nullable=False),
    Column("not_kept", Integer, nullable=False),
    Column("reviews_requested", Integer, nullable=False),
    Column("reviews_decided", Integer, nullable=False),
    Column("reviews_within_sla", Integer, nullable=False),
    Column("crm_updates", Integer, nullable=False),
    Column("exceptions", Integer, nullable=False),
    Column("recoverable", Integer, nullable=False),
    Column("lost_value", Float, nullable=False),
    Column("recovered_value", Float, nullable=False),
    Column("events", Integer, nullable=False),
    *[Column(name, Integer, nullable=False) for name in FLAG_COLUMNS],
    # waitlist backfills (migration 0002): a row is a case or a backfill, see reporting.facts.backfill_facts
    Column("backfill", Integer, nullable=False, server_default="0"),
    Column("backfill_offers", Integer, nullable=False, server_default="0"),
    Column("backfilled", Integer, nullable=False, server_default="0"),
    Column("backfilled_value", Float, nullable=False, server_default="0"),
    # the case's policy program (migration 0003): what an owner's program scope filters on; NULL: not known
    Column("program", String(200)),
    # the watching stage's confirmation and reminders (migration 0004), see reporting.facts.case_facts
    *[Column(name, Integer, nullable=False, server_default="0") for name in WATCH_FLAG_COLUMNS],
    Index("ix_case_facts_opened_at", "opened_at"),
    Index("ix_case_facts_ignored", "ignored", "ignore_reason"),
    *[Index(f"ix_case_facts_{name}", name, "opened_at") for name in DIMENSION_COLUMNS if name != "week"],
    Index("ix_case_facts_week", "week"),
)
