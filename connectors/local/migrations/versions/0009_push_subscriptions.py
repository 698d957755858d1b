"""Web Push subscriptions per contact (RFC 8030): the push service endpoint and the browser's keys, sealed.

A subscription's endpoint is a capability URL and its keys decrypt what is sent to it: they are kept sealed with
AES-256-GCM under NOSHOW_ENCRYPTION_KEY (`sealed`), looked up by the contact's opaque key and a digest of the
endpoint (`subscription_id`), never in the clear.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

T = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "push_subscriptions",
        sa.Column("subscription_id", T, primary_key=True),  # sha256 of the endpoint, hex
        sa.Column("contact_key", T, nullable=False),
        sa.Column("sealed", T, nullable=False),
        sa.Column("created_at", T, nullable=False),
    )
    op.create_index("push_subscriptions_contact", "push_subscriptions", ["contact_key"])


def downgrade() -> None:
    op.drop_index("push_subscriptions_contact", table_name="push_subscriptions")
    op.drop_table("push_subscriptions")
