"""The creates a CRM without idempotency keys (Salesforce, Zoho CRM) received, keyed by the engine's idempotency
key, so a retried activity never creates a second task, note or record.

- `remote_creates`: one row per (provider, idempotency key); `record_id` is NULL while the create is in flight
  (a retry then searches the provider for the marker before creating again).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DDL = """
CREATE TABLE IF NOT EXISTS remote_creates (
    provider TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    object_type TEXT NOT NULL,          -- Task, Note, Notes, Tasks ...
    record_id TEXT,                     -- the provider's id once the create answered; NULL while in flight
    created_at TEXT NOT NULL,
    PRIMARY KEY (provider, idempotency_key)
)
"""


def upgrade() -> None:
    op.execute(DDL.strip())


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS remote_creates")
