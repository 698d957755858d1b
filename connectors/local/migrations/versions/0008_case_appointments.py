"""When each case's appointment is, and under which program, so a missed call from one of its addresses finds the
appointment of that day (`case_appointments`: ids, a program name and a time; no personal data).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

T = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "case_appointments",
        sa.Column("case_id", T, primary_key=True),
        sa.Column("program", T, nullable=False),
        sa.Column("start_at", T, nullable=False),  # ISO UTC
    )


def downgrade() -> None:
    op.drop_table("case_appointments")
