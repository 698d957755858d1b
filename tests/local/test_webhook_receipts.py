"""The webhook routes' memory: deliveries seen (pruned past the retry horizon) and unknown types (bounded)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.local import webhook_receipts
from connectors.local.db import LocalDb
from connectors.local.webhook_receipts import UnknownTypes, WebhookReceipts, safe_type

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_a_delivery_is_remembered_until_past_the_retry_horizon(db_url: str) -> None:
    log = WebhookReceipts(LocalDb(db_url), horizon=timedelta(days=7))
    log.remember("calcom:old", now=NOW - timedelta(days=8))
    log.remember("calcom:recent", now=NOW - timedelta(days=6))
    assert log.seen("calcom:old") and log.seen("calcom:recent") and not log.seen("calcom:never")
    assert log.prune(NOW) == 1
    assert not log.seen("calcom:old") and log.seen("calcom:recent")


def test_remembering_prunes_on_its_own_now_and_then(db_url: str, monkeypatch: object) -> None:
    monkeypatch.setattr(webhook_receipts, "PRUNE_EVERY", 3)  # type: ignore[attr-defined]
    log = WebhookReceipts(LocalDb(db_url), horizon=timedelta(days=1))
    log.remember("a", now=NOW - timedelta(days=3))
    log.remember("b", now=NOW - timedelta(days=3))
    assert log.seen("a")
    log.remember("c", now=NOW)  # the third remember prunes
    assert not log.seen("a") and not log.seen("b") and log.seen("c")


def test_unknown_types_are_counted_per_provider_and_type(db_url: str) -> None:
    counter = UnknownTypes(LocalDb(db_url))
    counter.count("calcom", ["BOOKING_PAID", "BOOKING_PAID"], now=NOW)
    counter.count("calcom", ["BOOKING_PAID"], now=NOW + timedelta(minutes=5))
    counter.count("zoom", ["meeting.started"], now=NOW)
    rows = {(r.provider, r.type): r for r in counter.all()}
    assert rows[("calcom", "BOOKING_PAID")].count == 3
    assert rows[("calcom", "BOOKING_PAID")].first_seen == NOW
    assert rows[("calcom", "BOOKING_PAID")].last_seen == NOW + timedelta(minutes=5)
    assert rows[("zoom", "meeting.started")].count == 1


def test_attacker_chosen_type_names_cannot_fill_the_disk_or_break_rendering(db_url: str,
                                                                           monkeypatch: object) -> None:
    monkeypatch.setattr(webhook_receipts, "MAX_UNKNOWN_TYPES", 5)  # type: ignore[attr-defined]
    counter = UnknownTypes(LocalDb(db_url))
    counter.count("events", [f"type-{n}" for n in range(50)] + ["x" * 10_000, "bad\ud800\x00type"], now=NOW)
    rows = counter.all()
    assert len(rows) <= 6  # five names, then everything else shares "(other)"
    assert sum(r.count for r in rows) == 52
    assert any(r.type == "(other)" for r in rows)
    assert safe_type("x" * 10_000) == "x" * webhook_receipts.MAX_TYPE_LENGTH
    assert safe_type("bad\ud800\x00type") == "bad??type"
    assert safe_type("") == "(empty)"
    "".join(r.type for r in rows).encode("utf-8")  # every stored name is encodable
