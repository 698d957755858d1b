"""The composition root: every connector the processes share, built once from the settings. Local by default,
providers where the settings select them."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from connectors.contract import MessageChannel, ReviewNotifier
from connectors.llm import ReplyModelClient
from connectors.local.address_book import AddressBook
from connectors.local.alerts import LocalAlerts
from connectors.local.calendar import LocalCalendar
from connectors.local.consent import ConsentLedger
from connectors.local.crm import LocalCrm
from connectors.local.db import LocalDb
from connectors.local.inbox import LocalInbox
from connectors.local.outbox import LocalOutbox
from connectors.local.reviews import LocalReviewQueue
from connectors.local.send_intents import SendIntents
from connectors.local.verdicts import VerdictLog
from connectors.local.waitlist import LocalWaitlist
from connectors.settings import secret
from domain.models import Channel
from policies.loader import default_policy_path, load_policy
from policies.schema import PolicyFile
from reporting.ledger import Ledger
from workers.providers.outbound import outbound
from workers.providers.writeback import writeback
from workers.settings import Settings


@dataclass
class Dependencies:
    settings: Settings
    db: LocalDb
    calendar: LocalCalendar  # or connectors.writeback.MirroredCalendar (same interface) with a provider selected
    crm: LocalCrm  # or connectors.writeback.WritebackCrm
    outbox: LocalOutbox
    inbox: LocalInbox
    consent: ConsentLedger
    reviews: LocalReviewQueue
    verdicts: VerdictLog
    waitlist: LocalWaitlist
    ledger: Ledger
    addresses: AddressBook
    intents: SendIntents
    alerts: LocalAlerts
    channels: dict[Channel, MessageChannel] = field(default_factory=dict)
    notifiers: list[ReviewNotifier] = field(default_factory=list)
    reply_model: ReplyModelClient | None = None
    _policy: PolicyFile | None = None
    _policy_stamp: tuple[int, int, int] | None = None
    _policy_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def policy(self) -> PolicyFile:
        """The approved policy, re-parsed only when its file changes (parsing costs ~100 ms otherwise).

        The file's stat stands for its bytes: one system call per call instead of reading and hashing the file
        on every request. An edit in place moves the mtime or the size, a replace by rename the inode."""
        path = self.settings.policy.file or default_policy_path()
        stamp = policy_stamp(path)
        policy = self._policy
        if policy is not None and stamp == self._policy_stamp:
            return policy
        # one parse for the whole process: a burst arriving before the first parse finished would otherwise
        # parse once per request, each slower than the last as they share the interpreter
        with self._policy_lock:
            if self._policy is None or stamp != self._policy_stamp:
                # stamped before the read: a change landing mid-read leaves an older stamp, so it is re-read next
                self._policy = load_policy(self.settings.policy.file)
                self._policy_stamp = stamp
            return self._policy


def policy_stamp(path: Path) -> tuple[int, int, int] | None:
    """What identifies one version of the policy file: modification time, size and inode."""
    try:
        st = path.stat()
    except OSError:
        return None  # load_policy reports the missing or unreadable file clearly
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def reply_model(settings: Settings) -> ReplyModelClient | None:
    model = settings.reply_model
    if not model.url:
        return None
    return ReplyModelClient(model.url, model.name, secret(model.api_key), model.timeout)


def build_dependencies(settings: Settings) -> Dependencies:
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    db = LocalDb(settings.storage.database)  # migrated on open
    policy = load_policy(settings.policy.file)
    protected = sorted({f for p in policy.programs for f in p.crm.protected_fields})
    outbox = LocalOutbox(db)
    ledger = Ledger(settings.storage.ledger_db_url)
    ledger.migrate()
    channels, notifiers, _ = outbound(settings, outbox)
    # NOSHOW_CALENDAR_PROVIDER / NOSHOW_CRM_PROVIDER: the local ones stay underneath (holds, contacts, audit copy)
    calendar, crm = writeback(settings, LocalCalendar(db, buffer_minutes=0),
                              LocalCrm(db, protected_fields=protected), [p.crm for p in policy.programs])
    deps = Dependencies(
        settings=settings, db=db, calendar=calendar, crm=crm, outbox=outbox, inbox=LocalInbox(db),
        consent=ConsentLedger(db), reviews=LocalReviewQueue(db), verdicts=VerdictLog(db), waitlist=LocalWaitlist(db),
        ledger=ledger, addresses=AddressBook(db), intents=SendIntents(db), alerts=LocalAlerts(db),
        channels=channels, notifiers=notifiers, reply_model=reply_model(settings),
    )
    deps.consent.scope = lambda: deps.policy().opt_out  # whom a STOP reaches, as the policy in force says
    return deps
