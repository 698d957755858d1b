"""Reconciliation: poll a connected source for changes since the last cursor and turn them into canonical
AppointmentEvents, for the webhooks that were lost (Calendly disables a subscription after 24 h of failures,
Cal.com does not retry, Google/Graph pushes only say "something changed").

Each source adapter returns `SyncPage` snapshots; a differ compares them with what the index last saw and
emits booked / rescheduled / cancelled / no_show / attended. The index is in memory by default; the worker backs
it with the database. The cursor is returned, not stored: the workflow commits it after delivery.

Sources may return a `ReconcilePage`, which adds what the raw provider items said beyond the snapshot: the Zoom
meeting a booking's join URL names (linked on commit, so Zoom attendance reaches the case) and, for HubSpot,
meetings whose contact could not be resolved. Such a meeting never starts a case with made-up contact data: a
human is asked instead (`needs_review`), and a change to a meeting that already has a case is delivered only to
that case.

`PushActivities` keeps the push side alive: Google channels and Graph subscriptions are opened and renewed before
they expire (connectors.google.channels, connectors.outlook.subscriptions), on their own Schedule.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from temporalio import activity

from activities.errors import to_application_error
from connectors.calcom.client import CalcomClient
from connectors.calendly.client import CalendlyClient
from connectors.calendly.inbound import CalendlyInbound
from connectors.contract import ProviderError
from connectors.google.channels import ChannelKeeper
from connectors.google.client import GoogleCalendarClient
from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.contacts import HubSpotContacts
from connectors.inbound import UNKNOWN_TYPE, PayloadError, clip, contact_id_for, dict_at, digest, opt_dt
from connectors.local.db import LocalDb
from connectors.local.meeting_links import MeetingLinks
from connectors.local.reconcile_state import SqliteAppointmentIndex, SqliteCursorStore
from connectors.outlook.client import OutlookClient
from connectors.outlook.subscriptions import SubscriptionKeeper
from connectors.sync import ReconcilePage, Snapshot, SnapshotStatus, SyncPage
from connectors.zoom.links import ZoomLinker, zoom_meeting_ids
from domain.models import Appointment, AppointmentEvent, AttendanceSignal, Contact, EventType, SignalKind
from domain.reconcile import (
    IndexEntry,
    IndexUpdate,
    MeetingLinkUpdate,
    NeedsReview,
    PushInput,
    PushReport,
    ReconcileInput,
    ReconcileResult,
    RenewalReport,
)


def one_meeting(item: Any) -> str | None:
    """The Zoom meeting id a raw provider item names, when it names exactly one."""
    ids = zoom_meeting_ids(json.dumps(item, default=str))
    return next(iter(ids)) if len(ids) == 1 else None


def meetings_of(items: Iterable[dict[str, Any]], id_of: Callable[[dict[str, Any]], Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, meeting = id_of(item), one_meeting(item)
        if key and meeting:
            out[str(key)[:200]] = meeting
    return out


# ---------------------------------------------------------------------------- sources


class ReconcileSource(Protocol):
    def poll(self, cursor: str | None, now: datetime) -> SyncPage: ...


def _ts_cursor(cursor: str | None, default: datetime) -> datetime:
    at = opt_dt(cursor) if cursor else None
    return at or default


def _next_ts_cursor(snaps: list[Snapshot], since: datetime) -> str:
    latest = max([s.changed_at for s in snaps], default=since)
    return latest.astimezone(UTC).isoformat()


class CalcomSource:
    """Cursor = ISO time of the last booking change seen."""

    def __init__(self, client: CalcomClient, source: str = "calcom", first_lookback: timedelta = timedelta(days=1)):
        self.client, self.source, self.first_lookback = client, source, first_lookback

    def poll(self, cursor: str | None, now: datetime) -> SyncPage:
        since = _ts_cursor(cursor, now - self.first_lookback)
        bookings = self.client.list_bookings(since)
        snaps = [s for s in (calcom_snapshot(b, self.source) for b in bookings) if s]
        return ReconcilePage(snapshots=snaps, cursor=_next_ts_cursor(snaps, since),
                             meetings=meetings_of(bookings, lambda b: b.get("uid")))


def calcom_snapshot(b: dict[str, Any], source: str = "calcom") -> Snapshot | None:
    """A Cal.com v2 booking (fields of the 2024-08-13 output) as a snapshot; pending/rejected are skipped."""
    uid, start, end = b.get("uid"), opt_dt(b.get("start")), opt_dt(b.get("end"))
    status = str(b.get("status") or "").lower()
    if not uid or start is None or status in ("pending", "rejected", "awaiting_host"):
        return None
    attendees = [a for a in b.get("attendees") or [] if isinstance(a, dict)]
    first = attendees[0] if attendees else {}
    email = first.get("email") if isinstance(first.get("email"), str) else None
    event_type = dict_at(b, "eventType")
    hosts = [h for h in b.get("hosts") or [] if isinstance(h, dict)]
    appt = Appointment(
        source=source, appointment_id=str(uid), appointment_type=str(event_type.get("slug") or UNKNOWN_TYPE)[:100],
        calendar_id=str(b.get("eventTypeId") or event_type.get("id") or "default"),
        owner_id=str(hosts[0]["id"]) if hosts and hosts[0].get("id") is not None else None,
        start=start, end=max(start, end or start),
        contact=Contact(contact_id=contact_id_for(source, email, fallback=str(uid)), name=clip(first.get("name"), 200),
                        email=clip(email, 254), timezone=clip(first.get("timeZone"), 64)),
    )
    changed = opt_dt(b.get("updatedAt")) or opt_dt(b.get("createdAt")) or start
    snap_status: SnapshotStatus
    if status == "cancelled":
        snap_status = "rescheduled" if b.get("rescheduledToUid") else "cancelled"
    elif any(a.get("absent") is True for a in attendees):
        snap_status = "no_show"
    else:
        snap_status = "active"
    return Snapshot(appointment=appt, status=snap_status, changed_at=changed)


class CalendlySource:
    """`owner` = {"user": <URI>} or {"organization": <URI>}. Cursor = ISO time of the last invitee change."""

    def __init__(self, client: CalendlyClient, owner: dict[str, str], source: str = "calendly",
                 first_lookback: timedelta = timedelta(days=1)):
        self.client, self.owner, self.source, self.first_lookback = client, owner, source, first_lookback
        # reuse the webhook mapping for the invitee -> appointment conversion
        self._mapper = CalendlyInbound("unused-key-for-mapping-only", source=source)

    def poll(self, cursor: str | None, now: datetime) -> SyncPage:
        since = _ts_cursor(cursor, now - self.first_lookback)
        snaps: list[Snapshot] = []
        meetings: dict[str, str] = {}
        for inv in self.client.changed_invitees(self.owner, since, now):
            try:
                appt = self._mapper.appointment(inv, now)
            except PayloadError:
                continue
            meeting = one_meeting(inv)
            if meeting:
                meetings[appt.appointment_id] = meeting
            changed = opt_dt(inv.get("updated_at")) or now
            status: SnapshotStatus
            if inv.get("status") == "canceled":
                status = "rescheduled" if inv.get("rescheduled") else "cancelled"
            elif inv.get("no_show"):
                status = "no_show"
            else:
                status = "active"
            snaps.append(Snapshot(appointment=appt, status=status, changed_at=changed))
        return ReconcilePage(snapshots=snaps, cursor=_next_ts_cursor(snaps, since), meetings=meetings)


class GoogleSource:
    """Cursor = the events.list nextSyncToken (None = full sync)."""

    def __init__(self, client: GoogleCalendarClient, calendar_id: str, source: str = "google"):
        self.client, self.calendar_id, self.source = client, calendar_id, source

    def poll(self, cursor: str | None, now: datetime) -> SyncPage:
        raw: list[dict[str, Any]] = []
        page = self.client.sync(self.calendar_id, cursor, self.source, raw=raw)
        return ReconcilePage(snapshots=page.snapshots, cursor=page.cursor, full_resync=page.full_resync,
                             meetings=meetings_of(raw, lambda e: e.get("id")))


class OutlookSource:
    """Cursor = the calendarView delta link. The window applies to the first (full) sync only."""

    def __init__(self, client: OutlookClient, user: str, source: str = "outlook",
                 back: timedelta = timedelta(days=7), ahead: timedelta = timedelta(days=90)):
        self.client, self.user, self.source, self.back, self.ahead = client, user, source, back, ahead

    def poll(self, cursor: str | None, now: datetime) -> SyncPage:
        raw: list[dict[str, Any]] = []
        page = self.client.sync(self.user, cursor, now - self.back, now + self.ahead, self.source, raw=raw)
        return ReconcilePage(snapshots=page.snapshots, cursor=page.cursor, full_resync=page.full_resync,
                             meetings=meetings_of(raw, lambda e: e.get("id")))


# Contact properties read for a meeting's contact (standard HubSpot contact properties; `hs_timezone` and
# `hs_language` value formats are UNVERIFIED: values that are not a known IANA zone / a language tag are dropped)
class HubSpotSource:
    """Meeting changes with each meeting's contact resolved. Cursor = ISO time of the last meeting change seen."""

    def __init__(self, client: HubSpotClient, source: str = "hubspot", first_lookback: timedelta = timedelta(days=1),
                 contacts: HubSpotContacts | None = None):
        self.client, self.source, self.first_lookback = client, source, first_lookback
        self.contacts = contacts or HubSpotContacts(client, source)

    def poll(self, cursor: str | None, now: datetime) -> SyncPage:
        since = _ts_cursor(cursor, now - self.first_lookback)
        snaps: list[Snapshot] = []
        problems: dict[str, str] = {}
        for snap in self.client.changed_meetings(since, self.source):
            found = self.contacts.for_meeting(snap.appointment.appointment_id)
            if isinstance(found, Contact):
                snap = snap.model_copy(update={"appointment": snap.appointment.model_copy(update={"contact": found})})
            else:
                problems[snap.appointment.appointment_id] = found
            snaps.append(snap)
        return ReconcilePage(snapshots=snaps, cursor=_next_ts_cursor(snaps, since), contact_problems=problems)


# ---------------------------------------------------------------------------- index and differ


class AppointmentIndex(Protocol):
    def get(self, source: str, appointment_id: str) -> IndexEntry | None: ...

    def put(self, source: str, appointment_id: str, entry: IndexEntry) -> None: ...


class InMemoryAppointmentIndex:
    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], IndexEntry] = {}
        self._lock = threading.Lock()

    def get(self, source: str, appointment_id: str) -> IndexEntry | None:
        with self._lock:
            return self._rows.get((source, appointment_id))

    def put(self, source: str, appointment_id: str, entry: IndexEntry) -> None:
        with self._lock:
            self._rows[(source, appointment_id)] = entry


def diff(snap: Snapshot, prev: IndexEntry | None, now: datetime, max_age: timedelta, baseline: bool
         ) -> AppointmentEvent | None:
    """The canonical event a snapshot implies given what was last seen, or None.

    Nothing for appointments that ended more than `max_age` ago and were never seen (old history is not a
    case), and on a baseline run (first sync) only future bookings start cases.
    """
    appt = snap.appointment
    unseen_and_old = prev is None and appt.end < now - max_age
    if unseen_and_old:
        return None
    src = appt.source
    at = snap.changed_at
    etype: EventType | None = None
    extra: dict[str, Any] = {}
    if snap.status == "active":
        if prev is None or prev.status == "cancelled":
            if baseline and appt.start < now:
                return None
            etype = EventType.booked
        elif (prev.start, prev.end) != (appt.start, appt.end):
            etype = EventType.rescheduled
            extra = {"new_start": appt.start, "new_end": appt.end,
                     "signal": AttendanceSignal(kind=SignalKind.reschedule, at=at, source=src)}
    elif baseline and prev is None:
        return None
    elif snap.status == "cancelled" and (prev is None or prev.status != "cancelled"):
        etype = EventType.cancelled
        extra = {"signal": snap.signal} if snap.signal is not None else {}
    elif snap.status == "rescheduled" and (prev is None or prev.status != "rescheduled"):
        etype = EventType.rescheduled
        extra = {"signal": AttendanceSignal(kind=SignalKind.reschedule, at=at, source=src)}
    elif snap.status == "no_show" and (prev is None or prev.status != "no_show"):
        if snap.signal is not None and snap.signal.kind == SignalKind.technician_report:
            # the technician came and could not get in: a failed-access case, reviewed by a person first
            etype, extra = EventType.failed_access, {"signal": snap.signal}
        else:
            etype = EventType.no_show
            extra = {"signal": AttendanceSignal(kind=SignalKind.scheduler_status, at=at, source=src,
                                                value="no_show", participant="guest")}
    elif snap.status == "attended" and (prev is None or prev.status != "attended"):
        etype = EventType.attended
        extra = {"signal": AttendanceSignal(kind=SignalKind.scheduler_status, at=at, source=src, value="attended",
                                            participant="guest")}
    if etype is None:
        return None
    eid = f"reconcile-{src}-{digest(appt.appointment_id, etype.value, appt.start.isoformat(), appt.end.isoformat())}"
    return AppointmentEvent(event_id=eid, type=etype, occurred_at=at, appointment=appt,
                            note=snap.note or "found by reconciliation", **extra)


# ---------------------------------------------------------------------------- activities


class ReconcileActivities:
    """`sources` maps a source name (the workflow input's `source`) to an adapter above, built with its client."""

    def __init__(self, sources: dict[str, ReconcileSource], index: AppointmentIndex | None = None,
                 max_age: timedelta = timedelta(days=7),
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.sources = sources
        self.index = index or InMemoryAppointmentIndex()
        self.max_age = max_age
        self.clock = clock

    @activity.defn(name="reconcile_source")
    def reconcile_source(self, inp: ReconcileInput) -> ReconcileResult:
        source = self.sources.get(inp.source)
        if source is None:
            raise to_application_error(ValueError(f"no reconciliation source named {inp.source!r}"))
        now = self.clock()
        try:
            page = source.poll(inp.cursor, now)
        except ProviderError as exc:
            raise to_application_error(exc) from exc
        baseline = inp.cursor is None
        meetings = page.meetings if isinstance(page, ReconcilePage) else {}
        problems = page.contact_problems if isinstance(page, ReconcilePage) else {}
        events: list[AppointmentEvent] = []
        updates: list[IndexUpdate] = []
        links: list[MeetingLinkUpdate] = []
        unresolved: dict[str, str] = {}
        needs_review: list[NeedsReview] = []
        pending: dict[tuple[str, str], IndexEntry] = {}  # a page may list the same appointment twice
        for snap in page.snapshots:
            appt = snap.appointment
            key = (appt.source, appt.appointment_id)
            prev = pending.get(key) or self.index.get(*key)
            event = diff(snap, prev, now, self.max_age, baseline and not page.full_resync)
            problem = problems.get(appt.appointment_id)
            if problem is not None and prev is None:
                # never seen, so no case can exist: ask a human rather than start one that cannot message anyone;
                # not indexed either, so a later change (a contact associated after all) is looked at afresh
                if event is not None:
                    needs_review.append(NeedsReview(source=appt.source, appointment_id=appt.appointment_id,
                                                    owner_id=appt.owner_id, event_type=event.type, reason=problem))
                continue
            if event is not None:
                events.append(event)
                if problem is not None:
                    unresolved[event.event_id] = problem
            meeting = meetings.get(appt.appointment_id)
            if meeting and snap.status == "active":
                links.append(MeetingLinkUpdate(meeting_id=meeting, appointment=appt))
            if prev is not None and snap.status == "cancelled" and appt.appointment_type == UNKNOWN_TYPE:
                entry = prev.model_copy(update={"status": "cancelled"})  # deletions carry only the id
            else:
                entry = IndexEntry(start=appt.start, end=appt.end, status=snap.status)
            pending[key] = entry
            updates.append(IndexUpdate(source=appt.source, appointment_id=appt.appointment_id, entry=entry))
        return ReconcileResult(source=inp.source, events=events, cursor=page.cursor, full_resync=page.full_resync,
                               seen=len(page.snapshots), updates=updates, links=links, unresolved=unresolved,
                               needs_review=needs_review)

    @activity.defn(name="commit_reconcile")
    def commit_reconcile(self, result: ReconcileResult) -> None:
        for update in result.updates:
            self.index.put(update.source, update.appointment_id, update.entry)


# ---------------------------------------------------------------------------- push channels and subscriptions


class PushActivities:
    """Opens and renews the push side of the calendar sources: one `ChannelKeeper` per watched Google calendar, one
    `SubscriptionKeeper` per Outlook mailbox. Idempotent: a retried or overlapping run converges on one live channel
    / subscription each."""

    def __init__(self, google: list[ChannelKeeper] | None = None, outlook: list[SubscriptionKeeper] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 renewals: dict[str, Callable[[datetime], RenewalReport]] | None = None) -> None:
        self.google = google or []
        self.outlook = outlook or []
        self.clock = clock
        self.renewals = renewals or {}  # provider -> renews its one registration (Airtable webhook, Gmail watch)

    @property
    def providers(self) -> list[str]:
        return [p for p, keepers in (("google", self.google), ("outlook", self.outlook)) if keepers] + list(
            self.renewals)

    @activity.defn(name="renew_push_channels")
    def renew_push_channels(self, inp: PushInput) -> PushReport:
        now = self.clock()
        report = PushReport(provider=inp.provider)
        try:
            if inp.provider == "google":
                report.google = [keeper.maintain(now) for keeper in self.google]
            elif inp.provider in self.renewals:
                report.renewed = [self.renewals[inp.provider](now)]
            else:
                report.outlook = [keeper.maintain(now) for keeper in self.outlook]
        except ProviderError as exc:
            raise to_application_error(exc) from exc
        return report


class StoredReconcileActivities(ReconcileActivities):
    """ReconcileActivities with the cursor kept in the database (a Schedule's input is fixed).

    An explicit `cursor` in the input still wins (an operator replaying from a point in time); without one the
    stored cursor is used, and none stored means a baseline run. The cursor is stored by `commit_reconcile`, which
    the workflow runs after delivery, so a failed delivery polls the same changes again.
    """

    def __init__(self, sources: dict[str, ReconcileSource], db: LocalDb, max_age: timedelta = timedelta(days=7),
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), salt: str = "noshow") -> None:
        super().__init__(sources, index=SqliteAppointmentIndex(db), max_age=max_age, clock=clock)
        self.cursors = SqliteCursorStore(db)
        self.linker = ZoomLinker(MeetingLinks(db), salt)

    @activity.defn(name="reconcile_source")
    def reconcile_source(self, inp: ReconcileInput) -> ReconcileResult:
        if inp.cursor is None:
            inp = inp.model_copy(update={"cursor": self.cursors.get(inp.source)})
        return super().reconcile_source(inp)

    @activity.defn(name="commit_reconcile")
    def commit_reconcile(self, result: ReconcileResult) -> None:
        super().commit_reconcile(result)
        for link in result.links:  # bookings whose event names a Zoom meeting: its attendance reaches the case
            self.linker.link(link.appointment, link.meeting_id)
        if result.cursor:
            self.cursors.put(result.source, result.cursor)
