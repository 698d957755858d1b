"""The policy program as a dimension: a column on every ledger event and on every summary, and its index.

Owners scoped to some programs see only those programs' figures, so a summary must say its program. Rows written
before this revision have none (NULL): only viewers of every program see them. `Ledger.migrate()` rebuilds every
summary in the same transaction; run through the `alembic` command line instead, follow it with
`Ledger.rebuild_facts()`.

Revision ID: 0003
Revises: 0002
Create Date: 2025-04-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# spelled out rather than imported: a migration must not change when the application code does
COLUMN = "program"
LENGTH = 200


def upgrade() -> None:
    with op.batch_alter_table("ledger_events") as batch:
        batch.add_column(sa.Column(COLUMN, sa.String(LENGTH)))
    with op.batch_alter_table("case_facts") as batch:
        batch.add_column(sa.Column(COLUMN, sa.String(LENGTH)))
    op.create_index("ix_case_facts_program", "case_facts", [COLUMN, "opened_at"])


def downgrade() -> None:
    op.drop_index("ix_case_facts_program", table_name="case_facts")
    with op.batch_alter_table("case_facts") as batch:
        batch.drop_column(COLUMN)
    with op.batch_alter_table("ledger_events") as batch:
        batch.drop_column(COLUMN)
