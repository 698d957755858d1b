"""People in the loop: alerts to the owner (cancellations, high-value misses, exceptions), the audit trail of who
changed a case, and the daily digest per owner.

Alerts are kept in the local owner inbox always and posted to every notifier that takes plain alerts (Slack);
each one that reached a person is an `exception` ledger event, so the exceptions count is what humans saw.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from temporalio import activity

from activities.clock import activity_now
from activities.ledger import record
from connectors.local.alerts import LocalAlerts
from connectors.local.verdicts import VerdictLog
from domain.case import AuditEntry, DigestRequest, DigestResult, OwnerAlert
from domain.models import LedgerEvent

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
        """Yesterday's cases per owner, from the ledger: one digest each, kept in the owner inbox and posted."""
        until = req.until or self.clock()
        since = until - timedelta(hours=req.hours)
        if self.ledger is None:
            return DigestResult(owners=0)
        rows = self.ledger.events_between(since, until)
        per_owner: dict[str, dict[str, int]] = {}
        counted = {"case_opened": "opened", "rebooked": "rebooked", "exception": "exceptions",
                   "review_requested": "reviews", "watch_confirmed": "confirmed"}
        for row in rows:
            owner = row.get("owner_id") or "unassigned"
            counts = per_owner.setdefault(str(owner), {})
            if row["type"] == "verdict" and row.get("outcome") in ("no_show", "late_cancel"):
                counts["missed"] = counts.get("missed", 0) + 1
            elif row["type"] == "case_closed" and row.get("outcome") == "cancelled":
                counts["cancelled"] = counts.get("cancelled", 0) + 1
            elif row["type"] in counted:
                counts[counted[row["type"]]] = counts.get(counted[row["type"]], 0) + 1
        day = until.date().isoformat()
        for owner, counts in sorted(per_owner.items()):
            summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing happened"
            key = f"digest-{owner}-{day}"
            if self.alerts.add(key, None, None if owner == "unassigned" else owner, "*", "digest", summary, at=until):
                for notifier in self.notifiers:
                    notifier.post_alert(f"Daily digest for {owner} ({day}): {summary}", key)
        return DigestResult(owners=len(per_owner))
