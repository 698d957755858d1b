"""Building the connectors every process shares from settings: local by default, providers when configured."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from connectors.contract import MessageChannel, ReviewNotifier
from connectors.local.calendar import LocalCalendar
from connectors.local.consent import ConsentLedger
from connectors.local.crm import LocalCrm
from connectors.local.db import LocalDb
from connectors.local.history import CaseHistory
from connectors.local.outbox import LocalOutbox
from connectors.local.reviews import LocalReviewQueue
from domain.models import Channel
from policies.loader import default_policy_path, load_policy
from policies.schema import PolicyFile
from reporting.ledger import Ledger
from workers.settings import Settings


@dataclass
class Dependencies:
    settings: Settings
    db: LocalDb
    calendar: LocalCalendar  # or connectors.writeback.MirroredCalendar (same interface) with a provider selected
    crm: LocalCrm  # or connectors.writeback.WritebackCrm
    outbox: LocalOutbox
    consent: ConsentLedger
    reviews: LocalReviewQueue
    history: CaseHistory
    ledger: Ledger
    channels: dict[Channel, MessageChannel] = field(default_factory=dict)
    notifiers: list[ReviewNotifier] = field(default_factory=list)
    reply_model: Any | None = None
    _policy: PolicyFile | None = None
    _policy_stamp: str | None = None

    def policy(self) -> PolicyFile:
        """The approved policy, re-parsed only when its file's bytes change (parsing costs ~100 ms otherwise)."""
        path = self.settings.policy.file or default_policy_path()
        try:
            stamp: str | None = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            stamp = None  # load_policy below reports the unreadable file clearly
        if self._policy is None or stamp != self._policy_stamp:
            self._policy = load_policy(self.settings.policy.file)
            self._policy_stamp = stamp
        return self._policy


def build_dependencies(settings: Settings) -> Dependencies:
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    db = LocalDb(settings.storage.local_db_path)
    policy = load_policy(settings.policy.file)
    protected = sorted({f for p in policy.programs for f in p.crm.protected_fields})
    outbox = LocalOutbox(db)
    ledger = Ledger(settings.storage.ledger_db_url)
    ledger.migrate()
    deps = Dependencies(
        settings=settings,
        db=db,
        calendar=LocalCalendar(db, buffer_minutes=0),
        crm=LocalCrm(db, protected_fields=protected),
        outbox=outbox,
        consent=ConsentLedger(db),
        reviews=LocalReviewQueue(db),
        history=CaseHistory(db),
        ledger=ledger,
        channels={Channel.sms: outbox, Channel.whatsapp: outbox, Channel.email: outbox},
    )
    from connectors.llm import ReplyModelClient
    from workers.providers.wiring import ProviderSettings, outbound, writeback

    deps.reply_model = ReplyModelClient.from_env()
    providers = ProviderSettings()
    deps.channels, deps.notifiers, _ = outbound(providers, outbox, str(settings.storage.data_dir / "sendlog.db"))
    # NOSHOW_CALENDAR_PROVIDER / NOSHOW_CRM_PROVIDER: the local ones stay underneath (holds, contacts, audit copy)
    deps.calendar, deps.crm = writeback(providers, deps.calendar, deps.crm, [p.crm for p in policy.programs])
    return deps
