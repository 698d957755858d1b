"""People in the loop: alerts to the owner (cancellations, high-value misses, exceptions), the audit trail of who
changed a case, and the daily digest per owner.

Alerts are kept in the local owner inbox always and posted to every notifier that takes plain alerts (Slack);
each one that reached a person is an `exception` ledger event, so the exceptions count is what humans saw.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

import structlog
from temporalio import activity

from activities.clock import activity_now
from activities.ledger import record
from connectors.local.alerts import LocalAlerts
from connectors.local.verdicts import VerdictLog
from domain.case import AuditEntry, DigestRequest, DigestResult, OwnerAlert
from domain.models import LedgerEvent
from policies.zones import zone_or

log = structlog.get_logger(__name__)


class AlertActivities:
    def __init__(self, alerts: LocalAlerts, notifiers: list[Any] | None = None, ledger: Any | None = None,
                 clock: Callable[[], datetime] = activity_now, verdicts: VerdictLog | None = None) -> None:
        self.alerts = alerts
        self.notifiers = [n for n in (notifiers or []) if hasattr(n, "post_alert")]
        self.ledger = ledger
        self.clock = clock
        self.verdicts = verdicts

    @activity.defn(name="alert_owner")
    def alert_owner(self, alert: OwnerAlert) -> None:
        now = self.clock()
        if self.ledger is not None and alert.ledger_events:
            record(self.ledger, self.verdicts, alert.ledger_events)
        self.alerts.add(alert.alert_id, alert.case_id, alert.owner_id, alert.program, alert.kind, alert.summary,
                        alert.value, at=now)
        for notifier in self.notifiers:
            notifier.post_alert(f"[{alert.kind}] case {alert.case_id}: {alert.summary}", alert.alert_id)
        if self.ledger is not None:
            record(self.ledger, None, [LedgerEvent(
                event_id=f"{alert.alert_id}:exception", case_id=alert.case_id, type="exception", at=now,
                source="alert", appointment_type="-", owner_id=alert.owner_id, reason=alert.kind,
                value=alert.value)])
        log.info("owner_alerted", case_id=alert.case_id, kind=alert.kind)

    @activity.defn(name="record_audit")
    def record_audit(self, entry: AuditEntry) -> None:
        self.alerts.audit_once(entry.audit_key, entry.actor, entry.action, entry.case_id, dict(entry.detail))

    @activity.defn(name="send_digest")
    def send_digest(self, req: DigestRequest) -> DigestResult:
        """The figures of the calendar day before `req.until` (in `req.timezone`) per owner, from the ledger: one
        digest each, kept in the owner inbox and posted. Keyed by owner and day, so a retried or re-triggered run
        sends nothing twice."""
        since, until = digest_day(req.until or self.clock(), req.timezone)
        day = since.date().isoformat()
        if self.ledger is None:
            return DigestResult(owners=0, day=day)
        per_owner: dict[str, dict[str, int]] = {}
        for row in self.ledger.events_between(since, until):
            owner = row.get("owner_id") or "unassigned"
            counts = per_owner.setdefault(str(owner), {})
            figure = digest_figure(row)
            if figure is not None:
                counts[figure] = counts.get(figure, 0) + 1
        for owner, counts in sorted(per_owner.items()):
            summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing happened"
            key = f"digest-{owner}-{day}"
            if self.alerts.add(key, None, None if owner == "unassigned" else owner, "*", "digest", summary,
                               at=until):
                for notifier in self.notifiers:
                    notifier.post_alert(f"Daily digest for {owner} ({day}): {summary}", key)
        return DigestResult(owners=len(per_owner), day=day)


DIGEST_COUNTED = {"case_opened": "opened", "rebooked": "rebooked", "exception": "exceptions",
                  "review_requested": "reviews", "watch_confirmed": "confirmed"}


def digest_figure(row: dict[str, Any]) -> str | None:
    """The digest figure a ledger row counts towards, if any."""
    if row["type"] == "verdict" and row.get("outcome") in ("no_show", "late_cancel"):
        return "missed"
    if row["type"] == "case_closed" and row.get("outcome") == "cancelled":
        return "cancelled"
    return DIGEST_COUNTED.get(row["type"])


def digest_day(at: datetime, timezone: str) -> tuple[datetime, datetime]:
    """Midnight to midnight, in `timezone`, of the day before the one `at` falls on (a DST day is 23 or 25 h)."""
    zone = zone_or(timezone, "UTC")
    today = at.astimezone(zone).date()
    start = datetime.combine(today - timedelta(days=1), time(), tzinfo=zone)
    end = datetime.combine(today, time(), tzinfo=zone)
    return start, end
