"""Baseline: the operational store as the stores' SCHEMA strings created it (calendar, CRM, outbox, inbox,
consent, reviews, audit, waitlist, verdicts, meeting links, reconciliation, webhook receipts, send log, push
channels and subscriptions, HubSpot contact ids).

Tables that already exist (a SQLite file made before migrations) are kept as they are; only missing ones are
created, so upgrading an existing file and creating a new database end at the same schema.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Text compares byte by byte on Postgres as on SQLite: ISO times and ids sort the same on both
T = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")
INT = sa.Integer
REAL = sa.Float

# spelled out rather than imported: a migration must not change when the application code does
meta = sa.MetaData()


def _table(name: str, *items: Any, **kw: Any) -> sa.Table:
    return sa.Table(name, meta, *items, **kw)


def col(name: str, type_: Any = T, **kw: Any) -> sa.Column[Any]:
    return sa.Column(name, type_, **kw)


NN = {"nullable": False}
PK = {"primary_key": True}

_table("owners", col("owner_id", **PK), col("display_name", **NN), col("calendar_id", **NN))
_table("availability", col("owner_id", **PK), col("weekday", INT, **PK), col("open", **NN), col("close", **NN),
       col("timezone", **NN))
_table("appointments", col("appointment_id", **PK), col("calendar_id", **NN), col("owner_id"), col("contact_id"),
       col("appointment_type", **NN), col("start_at", **NN), col("end_at", **NN),
       col("status", nullable=False, server_default="booked"), col("case_id"), col("idempotency_key", unique=True),
       col("value", REAL, nullable=False, server_default="0"),
       sa.Index("appointments_calendar", "calendar_id", "start_at"))
_table("holds", col("hold_id", **PK), col("calendar_id", **NN), col("start_at", **NN), col("end_at", **NN),
       col("case_id", **NN), col("expires_at", **NN))
_table("attendance_signals", col("appointment_id", **NN), col("kind", **NN), col("value"), col("joined", INT),
       col("minutes", REAL), col("participant", nullable=False, server_default="any"), col("source", **NN),
       col("at", **NN), sa.Index("attendance_appt", "appointment_id"))
_table("contacts", col("contact_id", **PK), col("name"), col("phone"), col("email"), col("timezone"), col("locale"))
_table("crm_fields", col("contact_id", **PK), col("appointment_id", **PK), col("field", **PK), col("value"))
_table("crm_writes", col("idempotency_key", **PK), col("contact_id", **NN), col("appointment_id", **NN),
       col("field", **PK), col("before"), col("after"), col("at", **NN))
_table("crm_notes", col("idempotency_key", **PK), col("contact_id", **NN), col("note", **NN), col("at", **NN))
_table("crm_tasks", col("idempotency_key", **PK), col("owner_id"), col("title", **NN), col("at", **NN))
_table("outbox", col("message_id", **PK), col("case_id", **NN), col("contact_key"), col("channel", **NN),
       col("recipient", **NN), col("subject"), col("body", **NN), col("template_id"),
       col("status", nullable=False, server_default="sent"), col("created_at", **NN),
       sa.Index("outbox_recipient", "recipient", "created_at"), sa.Index("outbox_contact", "contact_key", "created_at"))
_table("inbound", col("reply_id", **PK), col("case_id"), col("channel", **NN), col("sender_key"), col("text", **NN),
       col("routed", **NN), col("at", **NN))
_table("consent", col("contact_key", **PK), col("channel", **PK), col("purpose", **PK), col("status", **NN),
       col("evidence"), col("evidence_channel"), col("at", **NN))
_table("consent_events", col("event_id", **PK), col("contact_key", **NN), col("channel", **NN),
       col("purpose", **NN), col("status", **NN), col("evidence"), col("at", **NN))
_table("reviews", col("review_id", **PK), col("case_id", **NN), col("status", **NN), col("reasons", **NN),
       col("program", **NN), col("requested_at", **NN), col("decided_at"), col("decision"), col("reviewer"))
_table("audit", col("audit_id", INT, primary_key=True, autoincrement=True), col("actor", **NN),
       col("action", **NN), col("case_id"), col("detail"), col("at", **NN), sqlite_autoincrement=True)
_table("waitlist", col("contact_id", **PK), col("appointment_type", **PK), col("calendar_id", **PK),
       col("added_at", **NN))
# connectors/local/verdicts.py
_table("case_verdicts", col("case_id", **PK), col("contact_key", **NN), col("verdict", **NN),
       col("appointment_start", **NN), sa.Index("case_verdicts_contact", "contact_key", "appointment_start"))
# connectors/local/meeting_links.py
_table("meeting_links", col("provider", **PK), col("meeting_id", **PK), col("source", **PK),
       col("appointment_id", **PK), col("start_at", **NN), col("end_at", **NN), col("guest_key"),
       col("appointment", **NN), col("linked_at", **NN), sa.Index("meeting_links_appt", "source", "appointment_id"))
_table("meeting_attendance", col("provider", **PK), col("meeting_id", **PK), col("session", **PK),
       col("participant", **PK), col("role", **NN), col("joined_at", **PK), col("left_at"))
# connectors/local/reconcile_state.py
_table("reconcile_index", col("source", **PK), col("appointment_id", **PK), col("start_at", **NN),
       col("end_at", **NN), col("status", **NN), col("updated_at", **NN))
_table("reconcile_cursor", col("source", **PK), col("cursor", **NN), col("updated_at", **NN))
# connectors/local/webhook_receipts.py
_table("webhook_deliveries", col("key", **PK), col("at", **NN), sa.Index("webhook_deliveries_at", "at"))
_table("webhook_unknown_types", col("provider", **PK), col("type", **PK), col("count", INT, **NN),
       col("first_seen", **NN), col("last_seen", **NN))
# connectors/twilio/sendlog.py
_table("send_log", col("scope", **PK), col("message_id", **PK), col("state", **NN), col("started_at", **NN),
       col("provider_message_id"), col("status"), col("extra"))
# connectors/google/channels.py
_table("google_channels", col("channel_id", **PK), col("token", **NN), col("calendar_id", **NN),
       col("resource_id"), col("expiration"), col("source", **NN), col("created_at", **NN),
       sa.Index("google_channels_calendar", "calendar_id", "source"))
# connectors/outlook/subscriptions.py
_table("graph_subscriptions", col("subscription_id", **PK), col("source", **NN), col("resource", **NN),
       col("expiration", **NN), col("status", **NN), col("updated_at", **NN))
# connectors/hubspot/crm.py
_table("hubspot_contacts", col("contact_id", **PK), col("record_id", **NN), col("at", **NN))


def upgrade() -> None:
    meta.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    meta.drop_all(op.get_bind())
