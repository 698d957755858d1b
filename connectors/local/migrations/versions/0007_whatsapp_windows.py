"""The WhatsApp customer-service window per phone number.

WhatsApp lets a business send free text only within 24 hours of the customer's last inbound message; outside
it only an approved template may go (https://www.twilio.com/docs/api/errors/63016). `whatsapp_windows` keeps, per
address key (a keyed hash of the E.164 number, never the number), the last inbound WhatsApp message and the
last time Twilio refused free text as outside the window, which closes it whatever the clock says.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

T = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "whatsapp_windows",
        sa.Column("address_key", T, primary_key=True),
        sa.Column("last_inbound_at", T),
        sa.Column("refused_at", T),
    )


def downgrade() -> None:
    op.drop_table("whatsapp_windows")
