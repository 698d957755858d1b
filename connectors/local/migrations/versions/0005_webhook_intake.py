"""Verified webhook deliveries handed off before they are acknowledged, so an ack never waits on Temporal and a
crash between the ack and the case's signal loses nothing.

- `webhook_intake`: one row per accepted delivery, its parsed content (`payload`, cleared once applied), who is
  applying it until when (`claimed_by`, `claimed_until`: a lease another replica may take over once it lapses),
  its attempts, when it may next be tried and the kind of the last error (a type name, never a message).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DDL = (
    """
CREATE TABLE IF NOT EXISTS webhook_intake (
    intake_id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    payload TEXT,                       -- the parsed delivery (JSON); NULL once applied
    status TEXT NOT NULL,               -- pending | done | failed
    received_at TEXT NOT NULL,
    next_at TEXT NOT NULL,
    claimed_by TEXT,
    claimed_until TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    done_at TEXT
)
""",
    "CREATE INDEX IF NOT EXISTS webhook_intake_due ON webhook_intake (status, next_at)",
)


def upgrade() -> None:
    for statement in DDL:
        op.execute(statement.strip())


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS webhook_intake")
