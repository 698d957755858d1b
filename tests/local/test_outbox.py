"""The outbox on SQLite and on Postgres: what a send keeps for its later statuses (migration 0006), and a status
that only moves forward however the provider's news is ordered."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.config import Config

from connectors.contract import OutboundMessage
from connectors.local import engine as engines
from connectors.local.db import LocalDb
from connectors.local.outbox import LocalOutbox
from domain.models import Channel

AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _message(message_id: str) -> OutboundMessage:
    return OutboundMessage(message_id=message_id, case_id="case-1", channel=Channel.email, to="pat@example.com",
                           subject="We missed you", body="Hi Pat", template_id="missed_first@3")


def test_a_send_keeps_the_crm_contact_and_program_of_its_later_statuses(db_url: str) -> None:
    outbox = LocalOutbox(LocalDb(db_url))
    outbox.send(_message("case-1-step0"), contact_key="ck-1", at=AT, crm_contact_id="calcom:ak-1", program="dental")
    outbox.send(_message("case-1-step1"), contact_key="ck-1", at=AT)
    [linked] = outbox.messages_by_id("case-1-step0")
    [bare] = outbox.messages_by_id("case-1-step1")
    assert (linked["crm_contact_id"], linked["program"]) == ("calcom:ak-1", "dental")
    assert (bare["crm_contact_id"], bare["program"]) == (None, None)


def test_the_status_only_moves_forward(db_url: str) -> None:
    outbox = LocalOutbox(LocalDb(db_url))
    outbox.send(_message("m-1"), contact_key="ck-1", at=AT)

    def status() -> object:
        return outbox.messages_by_id("m-1")[0]["status"]

    assert outbox.set_status("m-1", "queued") is False and status() == "sent"  # Twilio's late "queued"
    assert outbox.set_status("m-1", "opened") is True and status() == "opened"
    assert outbox.set_status("m-1", "delivered") is False and status() == "opened"  # SendGrid's late delivered
    assert outbox.set_status("m-1", "opened") is False  # a replay changes nothing
    assert outbox.set_status("m-1", "clicked") is True and status() == "clicked"
    assert outbox.set_status("m-1", "unsubscribed") is True and status() == "unsubscribed"
    outbox.send(_message("m-2"), contact_key="ck-1", at=AT)
    assert outbox.set_status("m-2", "delivered") and outbox.set_status("m-2", "bounced")  # an asynchronous bounce
    assert outbox.set_status("m-2", "delivered") is False and outbox.messages_by_id("m-2")[0]["status"] == "bounced"
    assert outbox.set_status("no-such-message", "delivered") is False


def test_a_store_at_0005_upgrades_and_keeps_its_messages_without_links(db_url: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(engines.MIGRATIONS))
    with engines.shared_engine(db_url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
        conn.exec_driver_sql(
            "INSERT INTO outbox (message_id, case_id, contact_key, channel, recipient, body, status, created_at) "
            "VALUES ('old-1', 'case-0', 'ck-0', 'sms', '+15550100', 'Hi', 'delivered', '2026-12-01T00:00:00+00:00')")
    outbox = LocalOutbox(LocalDb(db_url))  # opening the store runs the newer migrations
    [old] = outbox.messages_by_id("old-1")
    assert (old["status"], old["crm_contact_id"], old["program"]) == ("delivered", None, None)
    with outbox.db.connect() as conn:
        assert conn.execute("SELECT version_num FROM local_alembic_version").fetchone()[0] >= "0006"
