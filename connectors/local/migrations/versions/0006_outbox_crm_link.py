"""What a provider's later delivery news about a message needs to reach the CRM timeline, kept with the message.

- `outbox.crm_contact_id`: the CRM contact the message went to (an opaque contact id, never an address), so a
  delivery, open or click status can append its note to that contact's timeline.
- `outbox.program`: the policy program's name (a policy key) the case ran under, whose `crm.message_notes` rule
  decides whether the status gets a note.

Rows written before this revision have neither: their statuses update the outbox and the ledger only.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

T = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("crm_contact_id", T))
        batch.add_column(sa.Column("program", T))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("program")
        batch.drop_column("crm_contact_id")
