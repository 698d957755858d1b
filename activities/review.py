"""Asking a human: the local review queue always, plus any configured notifier (Slack)."""

from __future__ import annotations

from typing import Any

from temporalio import activity

from activities.ledger import record
from connectors.contract import ReviewNotifier
from connectors.local.reviews import LocalReviewQueue
from connectors.local.verdicts import VerdictLog
from domain.case import ReviewNotice


class ReviewActivities:
    def __init__(self, queue: LocalReviewQueue, notifiers: list[ReviewNotifier] | None = None,
                 ledger: Any | None = None, verdicts: VerdictLog | None = None) -> None:
        self.queue = queue
        self.notifiers = notifiers or []
        self.ledger = ledger
        self.verdicts = verdicts

    @activity.defn(name="request_review")
    def request_review(self, notice: ReviewNotice) -> None:
        if notice.ledger_events:
            if self.ledger is None:
                raise RuntimeError("this review carries case ledger events but was built without the ledger")
            record(self.ledger, self.verdicts, notice.ledger_events)
        if notice.reminder == 0:
            self.queue.request_review(notice.case_id, "review needed", notice.reasons, notice.review_id,
                                      program=notice.program)
        for notifier in self.notifiers:
            notifier.request_review(notice.case_id, f"Review {notice.review_id}", notice.reasons,
                                    idempotency_key=f"{notice.review_id}-{notice.reminder}")
