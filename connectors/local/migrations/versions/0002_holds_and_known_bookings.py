"""Holds and bookings the database itself keeps apart, and every booking the engine hears of.

- `holds`: at most one row per calendar and slot start (unique `holds_slot`); an expired row is deleted by the
  next hold of that slot. `pad_before_minutes` / `pad_after_minutes`: the holding program's prep + buffer,
  which the booking of that hold checks again.
- `appointments`: at most one live booking made by the engine per calendar and slot start (partial unique
  `appointments_engine_slot`, rows with a case id and status `booked`); `source` and `event_at` for bookings
  learned from webhooks and reconciliation (`event_at`: the newest event applied, so an older re-delivery
  cannot undo a newer change).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

T = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")
ENGINE_BOOKED = "status = 'booked' AND case_id IS NOT NULL"


def upgrade() -> None:
    # a slot held twice before this revision keeps its oldest hold (holds last minutes; the case re-offers)
    op.execute("DELETE FROM holds WHERE hold_id NOT IN (SELECT MIN(hold_id) FROM holds GROUP BY calendar_id, start_at)")
    with op.batch_alter_table("holds") as batch:
        batch.add_column(sa.Column("pad_before_minutes", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("pad_after_minutes", sa.Integer, nullable=False, server_default="0"))
    op.create_index("holds_slot", "holds", ["calendar_id", "start_at"], unique=True)
    op.create_index("holds_case", "holds", ["case_id"])
    with op.batch_alter_table("appointments") as batch:
        batch.add_column(sa.Column("source", T))
        batch.add_column(sa.Column("event_at", T))
    op.create_index("appointments_engine_slot", "appointments", ["calendar_id", "start_at"], unique=True,
                    sqlite_where=sa.text(ENGINE_BOOKED), postgresql_where=sa.text(ENGINE_BOOKED))


def downgrade() -> None:
    op.drop_index("appointments_engine_slot", "appointments")
    with op.batch_alter_table("appointments") as batch:
        batch.drop_column("event_at")
        batch.drop_column("source")
    op.drop_index("holds_case", "holds")
    op.drop_index("holds_slot", "holds")
    with op.batch_alter_table("holds") as batch:
        batch.drop_column("pad_after_minutes")
        batch.drop_column("pad_before_minutes")
