"""The watching stage in the summaries: confirmation and reminder flags per case, and every summary recomputed.

Confirmation rate and attendance after a reminder are sums of these 0/1 columns. They default to 0 here;
`Ledger.migrate()` then rebuilds every summary from the ledger in the same transaction. Run through the `alembic`
command line instead, follow it with `Ledger.rebuild_facts()`.

Revision ID: 0004
Revises: 0003
Create Date: 2025-05-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# spelled out rather than imported: a migration must not change when the application code does
INTS = ("confirmation_sent", "confirmed", "reminded", "reminded_attended", "not_reminded", "not_reminded_attended")


def upgrade() -> None:
    with op.batch_alter_table("case_facts") as batch:
        for name in INTS:
            batch.add_column(sa.Column(name, sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("case_facts") as batch:
        for name in reversed(INTS):
            batch.drop_column(name)
