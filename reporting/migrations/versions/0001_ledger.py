"""The ledger and the per-case summary it feeds.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from reporting.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# spelled out rather than imported: a migration must not change when the application code does
FLAGS = (
    "watched", "detected", "verdict_attended", "verdict_no_show", "verdict_cancelled", "verdict_late_cancel",
    "verdict_rescheduled", "verdict_review", "contacted", "replied", "unrecovered", "open_case", "followed",
    "recovered_recoverable",
)
FACT_DIMENSIONS = (
    "source", "appointment_type", "owner_id", "location_id", "channel", "template_id", "segment", "arm",
)


def upgrade() -> None:
    op.create_table(
        "ledger_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(200), nullable=False, unique=True),
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("appointment_type", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(32)),
        sa.Column("owner_id", sa.String(200)),
        sa.Column("location_id", sa.String(200)),
        sa.Column("channel", sa.String(16)),
        sa.Column("template_id", sa.String(200)),
        sa.Column("segment", sa.String(64)),
        sa.Column("arm", sa.String(200)),
        sa.Column("value", sa.Float, nullable=False, server_default="0"),
        sa.Column("outcome", sa.String(64)),
        sa.Column("reason", sa.Text),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_ledger_events_case", "ledger_events", ["case_id", "seq"])
    op.create_index("ix_ledger_events_type_reason", "ledger_events", ["type", "reason", "case_id"])
    op.create_index("ix_ledger_events_at", "ledger_events", ["at"])

    ints = (
        "closed", "ignored", "messages_sent", "messages_delivered", "messages_failed", "replies", "opted_out",
        "slots_offered", "rebooked",
    )
    ints_after = (
        "kept", "not_kept", "reviews_requested", "reviews_decided", "reviews_within_sla", "crm_updates",
        "exceptions", "recoverable",
    )
    op.create_table(
        "case_facts",
        sa.Column("case_id", sa.String(200), primary_key=True),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("week", sa.String(10), nullable=False),
        sa.Column("source", sa.String(64)),
        sa.Column("appointment_type", sa.String(100)),
        sa.Column("owner_id", sa.String(200)),
        sa.Column("location_id", sa.String(200)),
        sa.Column("kind", sa.String(32)),
        sa.Column("segment", sa.String(64)),
        sa.Column("arm", sa.String(200)),
        sa.Column("channel", sa.String(16)),
        sa.Column("template_id", sa.String(200)),
        sa.Column("verdict", sa.String(64)),
        sa.Column("outcome", sa.String(64)),
        sa.Column("closed", sa.Integer, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("ignored", sa.Integer, nullable=False),
        sa.Column("ignore_reason", sa.Text),
        *[sa.Column(name, sa.Integer, nullable=False) for name in ints[2:]],
        sa.Column("minutes_to_rebook", sa.Float),
        *[sa.Column(name, sa.Integer, nullable=False) for name in ints_after],
        sa.Column("lost_value", sa.Float, nullable=False),
        sa.Column("recovered_value", sa.Float, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
        *[sa.Column(name, sa.Integer, nullable=False) for name in FLAGS],
    )
    op.create_index("ix_case_facts_opened_at", "case_facts", ["opened_at"])
    op.create_index("ix_case_facts_ignored", "case_facts", ["ignored", "ignore_reason"])
    for name in FACT_DIMENSIONS:
        op.create_index(f"ix_case_facts_{name}", "case_facts", [name, "opened_at"])
    op.create_index("ix_case_facts_week", "case_facts", ["week"])


def downgrade() -> None:
    op.drop_table("case_facts")
    op.drop_table("ledger_events")
