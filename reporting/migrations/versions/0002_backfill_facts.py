"""Waitlist backfills apart from cases: four summary columns, and every summary recomputed.

Rows under `backfill-...` ids were summarised as if they were cases (they counted as appointments, contacted,
open cases...). The new columns default to 0 here; `Ledger.migrate()` then rebuilds every summary from the
ledger in the same transaction, since a revision change is how a definition change reaches stored summaries.
Run through the `alembic` command line instead, follow it with `Ledger.rebuild_facts()`.

Revision ID: 0002
Revises: 0001
Create Date: 2025-03-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# spelled out rather than imported: a migration must not change when the application code does
INTS = ("backfill", "backfill_offers", "backfilled")


def upgrade() -> None:
    with op.batch_alter_table("case_facts") as batch:
        for name in INTS:
            batch.add_column(sa.Column(name, sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("backfilled_value", sa.Float, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("case_facts") as batch:
        for name in ("backfilled_value", *reversed(INTS)):
            batch.drop_column(name)
