"""Reconciliation wiring: which sources are polled, where what was seen is kept, how found events reach cases,
and one Temporal Schedule per source.

Webhooks get lost (Calendly disables a subscription after 24 h of failures; Cal.com does not retry; Google and
Graph pushes only say "something changed"), so every connected source is polled every
NOSHOW_RECONCILE_EVERY_MINUTES and what was missed goes through CaseService.submit_event, the path webhooks take.

A Schedule's input is fixed, so the cursor cannot travel in it: `StoredReconcileActivities` reads the cursor from
the local database when the input has none and stores the new one when the run commits, after delivery. The
appointment index lives in the same database, so a restart neither re-announces old bookings nor forgets them.

Push: Google channels and Graph subscriptions are opened and renewed by a second Schedule
(`renew-push-channels`, `RenewPushChannelsWorkflow`). `WebhookHooks` is the API's side: a Google / Graph ping
triggers the source's reconcile Schedule at once, a Graph lifecycle notification flags its subscription and
triggers the renewal, booking webhooks link the Zoom meeting in their body to the booking, and Zoom webhooks are
turned into attendance evidence for the linked booking's case.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

import structlog
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from temporalio import activity
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from activities.reconcile import PushActivities, ReconcileActivities, ReconcileSource
from connectors.local.db import LocalDb
from domain.intake import EventOutcome
from domain.models import AppointmentEvent
from domain.reconcile import (
    DeliverEvents,
    DeliveryReport,
    IndexEntry,
    NeedsReview,
    ReconcileInput,
    ReconcileResult,
    RenewPushInput,
)
from workers.providers.wiring import ProviderCheck
from workflows.reconcile import ReconcileSourceWorkflow, RenewPushChannelsWorkflow

if TYPE_CHECKING:
    from connectors.contract import RawRequest, WebhookResult
    from workers.dependencies import Dependencies

log = structlog.get_logger(__name__)

SCHEDULE_PREFIX = "reconcile-"
PUSH_SCHEDULE_ID = "renew-push-channels"

SCHEMA = """
CREATE TABLE IF NOT EXISTS reconcile_index (
    source TEXT NOT NULL,               -- the appointment's source ("calcom", "google", ...)
    appointment_id TEXT NOT NULL,
    start_at TEXT NOT NULL,             -- ISO UTC
    end_at TEXT NOT NULL,
    status TEXT NOT NULL,               -- active | cancelled | rescheduled | no_show | attended
    updated_at TEXT NOT NULL,
    PRIMARY KEY (source, appointment_id)
);
CREATE TABLE IF NOT EXISTS reconcile_cursor (
    source TEXT PRIMARY KEY,            -- the reconcile source name (ReconcileInput.source)
    cursor TEXT NOT NULL,               -- ISO time, Google sync token or Graph delta link: provider-opaque
    updated_at TEXT NOT NULL
);
"""


# ---------------------------------------------------------------------------- settings and sources


class ReconcileSettings(BaseSettings):
    """Provider API credentials for polling (NOSHOW_*). Base URLs are overridable so tests and demos use fakes."""

    model_config = SettingsConfigDict(env_prefix="NOSHOW_", env_file=os.environ.get("NOSHOW_SETTINGS_FILE", ".env"),
                                      extra="ignore")

    calcom_api_key: SecretStr | None = None
    calcom_base_url: str = "https://api.cal.com/v2"
    calendly_token: SecretStr | None = None
    calendly_user_uri: str | None = None
    calendly_organization_uri: str | None = None  # instead of the user: every member's events
    calendly_base_url: str = "https://api.calendly.com"
    hubspot_access_token: SecretStr | None = None
    hubspot_base_url: str = "https://api.hubapi.com"
    google_access_token: SecretStr | None = None
    google_calendar_id: str | None = None
    google_base_url: str = "https://www.googleapis.com/calendar/v3"
    graph_access_token: SecretStr | None = None
    graph_user: str | None = None  # user id or UPN whose calendar is polled
    graph_base_url: str = "https://graph.microsoft.com/v1.0"
    reconcile_every_minutes: int = Field(default=15, ge=1, le=24 * 60)
    reconcile_max_age_days: int = Field(default=7, ge=1)  # older never-seen appointments do not start cases
    # push: NOSHOW_GOOGLE_CHANNELS=true also opens the /webhooks/google route (workers/providers.py);
    # NOSHOW_GRAPH_CLIENT_STATE (first value when several) is set on the subscriptions this deployment creates
    google_channels: bool = False
    graph_client_state: SecretStr | None = None
    push_renew_every_minutes: int = Field(default=60, ge=5, le=24 * 60)
    push_renew_before_hours: float = Field(default=24, gt=0, le=48)  # Outlook's maximum lifetime is ~70 h
    google_channel_ttl_hours: float = Field(default=7 * 24, gt=1)  # asked for; Google may grant less

    @model_validator(mode="after")
    def _renew_before_the_channel_expires(self) -> ReconcileSettings:
        if self.push_renew_before_hours >= self.google_channel_ttl_hours:
            raise ValueError("NOSHOW_PUSH_RENEW_BEFORE_HOURS must be shorter than NOSHOW_GOOGLE_CHANNEL_TTL_HOURS, "
                             "or every channel would be renewed as soon as it opens")
        return self

    @property
    def every(self) -> timedelta:
        return timedelta(minutes=self.reconcile_every_minutes)

    @property
    def push_every(self) -> timedelta:
        return timedelta(minutes=self.push_renew_every_minutes)


@dataclass
class _Plan:
    checks: list[ProviderCheck] = field(default_factory=list)
    builders: dict[str, Callable[[], ReconcileSource]] = field(default_factory=dict)


def _secret(value: SecretStr | None) -> str | None:
    raw = value.get_secret_value().strip() if value is not None else ""
    return raw or None


def url_problem(value: str, what: str) -> str | None:
    """Why `value` is not an absolute http(s) URL, or None. No network: format only."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"{what} must be an absolute http(s) URL"
    return None


def _plan(rs: ReconcileSettings) -> _Plan:
    """Every source with its status; builders only for the complete, well-formed ones. No network."""
    plan = _Plan()

    def consider(name: str, credential: str | None, env: str, needs: dict[str, str | None],
                 urls: dict[str, str], build: Callable[[], ReconcileSource]) -> None:
        given = {k: v for k, v in needs.items() if v and v.strip()}
        if credential is None and not given:
            plan.checks.append(ProviderCheck(name, "off", f"not configured ({env})"))
            return
        missing = ([env] if credential is None else []) + [k for k in needs if k not in given]
        if missing:
            plan.checks.append(ProviderCheck(name, "error", "missing " + ", ".join(missing)))
            return
        problems = [p for p in (url_problem(v, k) for k, v in urls.items()) if p]
        if problems:
            plan.checks.append(ProviderCheck(name, "error", "; ".join(problems)))
            return
        plan.builders[name] = build
        plan.checks.append(ProviderCheck(name, "ok", f"polled every {rs.reconcile_every_minutes} min "
                                                   f"(schedule {SCHEDULE_PREFIX}{name})"))

    calcom_key = _secret(rs.calcom_api_key)

    def calcom() -> ReconcileSource:
        from activities.reconcile import CalcomSource
        from connectors.calcom.client import CalcomClient

        return CalcomSource(CalcomClient(calcom_key or "", base_url=rs.calcom_base_url))

    consider("calcom", calcom_key, "NOSHOW_CALCOM_API_KEY", {}, {"NOSHOW_CALCOM_BASE_URL": rs.calcom_base_url},
             calcom)

    calendly_token = _secret(rs.calendly_token)
    owner_uri = rs.calendly_user_uri or rs.calendly_organization_uri
    owner_key = "user" if rs.calendly_user_uri else "organization"

    def calendly() -> ReconcileSource:
        from activities.reconcile import CalendlySource
        from connectors.calendly.client import CalendlyClient

        return CalendlySource(CalendlyClient(calendly_token or "", base_url=rs.calendly_base_url),
                              {owner_key: (owner_uri or "").strip()})

    calendly_urls = {"NOSHOW_CALENDLY_BASE_URL": rs.calendly_base_url}
    if owner_uri:
        calendly_urls["NOSHOW_CALENDLY_USER_URI or NOSHOW_CALENDLY_ORGANIZATION_URI"] = owner_uri
    consider("calendly", calendly_token, "NOSHOW_CALENDLY_TOKEN",
             {"NOSHOW_CALENDLY_USER_URI (or NOSHOW_CALENDLY_ORGANIZATION_URI)": owner_uri}, calendly_urls, calendly)

    hubspot_token = _secret(rs.hubspot_access_token)

    def hubspot() -> ReconcileSource:
        from activities.reconcile import HubSpotSource
        from connectors.hubspot.client import HubSpotClient

        return HubSpotSource(HubSpotClient(hubspot_token or "", base_url=rs.hubspot_base_url))

    consider("hubspot", hubspot_token, "NOSHOW_HUBSPOT_ACCESS_TOKEN", {},
             {"NOSHOW_HUBSPOT_BASE_URL": rs.hubspot_base_url}, hubspot)

    google_token = _secret(rs.google_access_token)

    def google() -> ReconcileSource:
        from activities.reconcile import GoogleSource
        from connectors.google.client import GoogleCalendarClient

        return GoogleSource(GoogleCalendarClient(google_token or "", base_url=rs.google_base_url),
                            (rs.google_calendar_id or "").strip())

    consider("google", google_token, "NOSHOW_GOOGLE_ACCESS_TOKEN",
             {"NOSHOW_GOOGLE_CALENDAR_ID": rs.google_calendar_id}, {"NOSHOW_GOOGLE_BASE_URL": rs.google_base_url},
             google)

    graph_token = _secret(rs.graph_access_token)

    def outlook() -> ReconcileSource:
        from activities.reconcile import OutlookSource
        from connectors.outlook.client import OutlookClient

        client = OutlookClient(graph_token or "", base_url=rs.graph_base_url)
        return OutlookSource(client, (rs.graph_user or "").strip())

    consider("outlook", graph_token, "NOSHOW_GRAPH_ACCESS_TOKEN", {"NOSHOW_GRAPH_USER": rs.graph_user},
             {"NOSHOW_GRAPH_BASE_URL": rs.graph_base_url}, outlook)
    return plan


def reconcile_checks(settings: ReconcileSettings | None = None) -> list[ProviderCheck]:
    """ok / off / error per reconcile source, with what is missing. Builds nothing, calls nothing."""
    return _plan(settings or ReconcileSettings()).checks


def reconcile_sources_from_env(settings: ReconcileSettings | None = None) -> dict[str, ReconcileSource]:
    """The configured, well-formed sources by name ("calcom", "calendly", "hubspot", "google", "outlook").

    The names are also the appointments' `source`, which the policy's `sources:` list and the case ids use, so a
    booking found here lands on the same case its webhook would have started. Misconfigured sources are left out
    (`noshow connectors check` says why).
    """
    return {name: build() for name, build in _plan(settings or ReconcileSettings()).builders.items()}


# ---------------------------------------------------------------------------- what was seen, in SQLite


class SqliteAppointmentIndex:
    """activities.reconcile.AppointmentIndex in the local database file: survives restarts."""

    def __init__(self, db: LocalDb) -> None:
        self.db = db
        db.script(SCHEMA)

    def get(self, source: str, appointment_id: str) -> IndexEntry | None:
        with self.db.connect() as conn:
            row = conn.execute("SELECT start_at, end_at, status FROM reconcile_index "
                               "WHERE source = ? AND appointment_id = ?", (source, appointment_id)).fetchone()
        if row is None:
            return None
        return IndexEntry(start=datetime.fromisoformat(row[0]), end=datetime.fromisoformat(row[1]), status=row[2])

    def put(self, source: str, appointment_id: str, entry: IndexEntry) -> None:
        with self.db.connect(immediate=True) as conn:
            conn.execute(
                "INSERT INTO reconcile_index (source, appointment_id, start_at, end_at, status, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source, appointment_id) DO UPDATE SET "
                "start_at = excluded.start_at, end_at = excluded.end_at, status = excluded.status, "
                "updated_at = excluded.updated_at",
                (source, appointment_id, entry.start.astimezone(UTC).isoformat(),
                 entry.end.astimezone(UTC).isoformat(), entry.status, datetime.now(UTC).isoformat()),
            )


class SqliteCursorStore:
    """The last committed cursor per reconcile source."""

    def __init__(self, db: LocalDb) -> None:
        self.db = db
        db.script(SCHEMA)

    def get(self, source: str) -> str | None:
        with self.db.connect() as conn:
            row = conn.execute("SELECT cursor FROM reconcile_cursor WHERE source = ?", (source,)).fetchone()
        return str(row[0]) if row else None

    def put(self, source: str, cursor: str) -> None:
        with self.db.connect(immediate=True) as conn:
            conn.execute(
                "INSERT INTO reconcile_cursor (source, cursor, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
                (source, cursor, datetime.now(UTC).isoformat()),
            )

    def forget(self, source: str) -> None:
        """The next run is a baseline again (only future bookings start cases)."""
        with self.db.connect(immediate=True) as conn:
            conn.execute("DELETE FROM reconcile_cursor WHERE source = ?", (source,))


class StoredReconcileActivities(ReconcileActivities):
    """ReconcileActivities with the cursor kept in the database (a Schedule's input is fixed).

    An explicit `cursor` in the input still wins (an operator replaying from a point in time); without one the
    stored cursor is used, and none stored means a baseline run. The cursor is stored by `commit_reconcile`, which
    the workflow runs after delivery, so a failed delivery polls the same changes again.
    """

    def __init__(self, sources: dict[str, ReconcileSource], db: LocalDb, max_age: timedelta = timedelta(days=7),
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), salt: str = "noshow") -> None:
        from connectors.local.meeting_links import MeetingLinks
        from connectors.zoom.links import ZoomLinker

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


# ---------------------------------------------------------------------------- delivery


class EventSubmitter(Protocol):
    """CaseService's part that delivery uses."""

    client: Client

    async def submit_event(self, event: AppointmentEvent) -> EventOutcome: ...

    def case_id(self, source: str, appointment_id: str) -> str: ...


class TaskSink(Protocol):
    """Where a human is asked to look (the CRM's task list, as for replies nobody can route)."""

    def create_task(self, owner_id: str | None, title: str, idempotency_key: str) -> None: ...


class DeliveryActivities:
    """Found events go through CaseService.submit_event, exactly like webhook events.

    Idempotent: case ids derive from (source, appointment id) and reconcile event ids from the appointment and the
    change, so a retried batch signals the same case with event ids it has already seen (the case ignores them).

    Events whose contact is unknown (`req.unresolved`) reach only a case that already exists; without one, and for
    `req.needs_review`, a task asks a human (one per appointment: the idempotency key is the appointment) and no case
    starts. Without `tasks` those are only logged.
    """

    def __init__(self, cases: EventSubmitter, tasks: TaskSink | None = None) -> None:
        self.cases = cases
        self.tasks = tasks

    @activity.defn(name="deliver_appointment_events")
    async def deliver_appointment_events(self, req: DeliverEvents) -> DeliveryReport:
        report = DeliveryReport(source=req.source)
        for event in req.events:
            reason = req.unresolved.get(event.event_id)
            if reason is not None and not await self._case_exists(event):
                appt = event.appointment
                self._ask_a_human(NeedsReview(source=appt.source, appointment_id=appt.appointment_id,
                                              owner_id=appt.owner_id, event_type=event.type, reason=reason))
                report.outcomes.append(EventOutcome(event_id=event.event_id, case_id=None, status="ignored",
                                                    reason="no_reachable_contact"))
                report.reviews.append(appt.appointment_id)
                continue
            report.outcomes.append(await self.cases.submit_event(event))
        for item in req.needs_review:
            self._ask_a_human(item)
            report.reviews.append(item.appointment_id)
        return report

    async def _case_exists(self, event: AppointmentEvent) -> bool:
        from temporalio.service import RPCError, RPCStatusCode

        case_id = self.cases.case_id(event.appointment.source, event.appointment.appointment_id)
        try:
            await self.cases.client.get_workflow_handle(case_id).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    def _ask_a_human(self, item: NeedsReview) -> None:
        # ids only: the appointment id is the provider's record id, never contact data
        log.info("reconcile_needs_review", source=item.source, appointment_id=item.appointment_id,
                 reason=item.reason)
        if self.tasks is not None:
            self.tasks.create_task(
                item.owner_id,
                f"{item.source} appointment {item.appointment_id} was not started as a case: {item.reason}. "
                f"Add a reachable contact in {item.source}, or handle it by hand.",
                f"reconcile-review-{item.source}-{item.appointment_id}")


def reconcile_activities(sources: dict[str, ReconcileSource], db: LocalDb, cases: EventSubmitter,
                         max_age: timedelta = timedelta(days=7), tasks: TaskSink | None = None,
                         salt: str = "noshow") -> list[Callable[..., object]]:
    """The three activities ReconcileSourceWorkflow calls, for the worker's activity list. `tasks` (the CRM)
    receives the "needs a human" tasks; `salt` (the deployment's id salt) keys the email hashes of Zoom links."""
    stored = StoredReconcileActivities(sources, db, max_age=max_age, salt=salt)
    return [stored.reconcile_source, stored.commit_reconcile,
            DeliveryActivities(cases, tasks).deliver_appointment_events]


# ---------------------------------------------------------------------------- schedules


def schedule_id(source: str) -> str:
    return f"{SCHEDULE_PREFIX}{source}"


def _schedule(source: str, task_queue: str, every: timedelta) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReconcileSourceWorkflow.run,
            ReconcileInput(source=source, cursor=None, deliver=True),
            id=schedule_id(source),  # Temporal appends the scheduled time to each run's id
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # a slow poll (provider rate limits, a long full resync) must not pile up runs on the same cursor
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_schedules(client: Client, sources: Iterable[str] | Mapping[str, object], task_queue: str,
                           every: timedelta) -> list[str]:
    """Create or update one Schedule per source (id `reconcile-<source>`); returns the ids. Idempotent.

    An update replaces action, spec and policy but keeps the schedule's state, so a schedule an operator paused
    stays paused. Schedules of sources that are no longer configured are left alone (see `remove_schedules`).
    """
    ids: list[str] = []
    for source in sources:
        sid = schedule_id(source)
        wanted = _schedule(source, task_queue, every)
        try:
            await client.create_schedule(sid, wanted)
        except ScheduleAlreadyRunningError:

            def keep_state(current: ScheduleUpdateInput, wanted: Schedule = wanted) -> ScheduleUpdate:
                wanted.state = current.description.schedule.state
                return ScheduleUpdate(schedule=wanted)

            await client.get_schedule_handle(sid).update(keep_state)
        ids.append(sid)
    return ids


async def remove_schedules(client: Client, sources: Iterable[str]) -> None:
    """Delete the reconcile schedules of sources that were disconnected. Missing ones are ignored."""
    from temporalio.service import RPCError, RPCStatusCode

    for source in sources:
        try:
            await client.get_schedule_handle(schedule_id(source)).delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise


async def trigger_reconcile(client: Client, source: str) -> None:
    """Run a source's reconciliation now (e.g. on a Google / Graph "something changed" ping). A run already in
    progress wins: the trigger is skipped rather than queued."""
    await client.get_schedule_handle(schedule_id(source)).trigger(overlap=ScheduleOverlapPolicy.SKIP)


# ---------------------------------------------------------------------------- push: channels and subscriptions


def push_activities(rs: ReconcileSettings, db: LocalDb, public_base_url: str) -> PushActivities:
    """The keepers of every configured push source: Google when NOSHOW_GOOGLE_CHANNELS=true and its reconcile
    credentials are complete, Outlook when NOSHOW_GRAPH_CLIENT_STATE is set and its reconcile credentials are
    complete. Notifications go to `public_base_url` + /webhooks/<source> (Google accepts https only)."""
    from connectors.google.channels import ChannelKeeper, SqliteChannelStore
    from connectors.google.client import GoogleCalendarClient
    from connectors.outlook.client import OutlookClient
    from connectors.outlook.subscriptions import SqliteSubscriptionStore, SubscriptionKeeper

    plan = _plan(rs)
    base = public_base_url.rstrip("/")
    before = timedelta(hours=rs.push_renew_before_hours)
    google: list[ChannelKeeper] = []
    outlook: list[SubscriptionKeeper] = []
    if rs.google_channels and "google" in plan.builders:
        client = GoogleCalendarClient(_secret(rs.google_access_token) or "", base_url=rs.google_base_url)
        google.append(ChannelKeeper(client, SqliteChannelStore(db), f"{base}/webhooks/google",
                                    (rs.google_calendar_id or "").strip(), source="google",
                                    ttl=timedelta(hours=rs.google_channel_ttl_hours), renew_before=before))
    state = next((s.strip() for s in (_secret(rs.graph_client_state) or "").split(",") if s.strip()), None)
    if state and "outlook" in plan.builders:
        graph = OutlookClient(_secret(rs.graph_access_token) or "", base_url=rs.graph_base_url)
        resource = f"users/{(rs.graph_user or '').strip()}/events"
        outlook.append(SubscriptionKeeper(graph, SqliteSubscriptionStore(db), resource, f"{base}/webhooks/outlook",
                                          state, source="outlook", renew_before=before))
    return PushActivities(google, outlook)


def _push_schedule(providers: list[str], task_queue: str, every: timedelta) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RenewPushChannelsWorkflow.run, RenewPushInput(providers=providers),  # type: ignore[arg-type]
            id=PUSH_SCHEDULE_ID, task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_push_schedule(client: Client, providers: Iterable[str], task_queue: str, every: timedelta,
                               run_now: bool = True) -> str | None:
    """Create or update the `renew-push-channels` Schedule for `providers` ("google", "outlook"); None (and nothing
    touched) when there are none. Like `ensure_schedules`, an update keeps a pause. `run_now` triggers a first run,
    so channels exist right after a deploy instead of one period later."""
    wanted_providers = [p for p in dict.fromkeys(providers) if p in ("google", "outlook")]
    if not wanted_providers:
        return None
    wanted = _push_schedule(wanted_providers, task_queue, every)
    try:
        await client.create_schedule(PUSH_SCHEDULE_ID, wanted)
    except ScheduleAlreadyRunningError:

        def keep_state(current: ScheduleUpdateInput) -> ScheduleUpdate:
            wanted.state = current.description.schedule.state
            return ScheduleUpdate(schedule=wanted)

        await client.get_schedule_handle(PUSH_SCHEDULE_ID).update(keep_state)
    if run_now:
        await trigger_push_renewal(client)
    return PUSH_SCHEDULE_ID


async def trigger_push_renewal(client: Client) -> None:
    """Run the channel / subscription upkeep now (a Graph lifecycle notification asked for it)."""
    await client.get_schedule_handle(PUSH_SCHEDULE_ID).trigger(overlap=ScheduleOverlapPolicy.SKIP)


async def _quietly(what: str, call: Awaitable[None]) -> None:
    """A trigger is an optimisation (the Schedules run on their own anyway): a missing Schedule or a Temporal
    hiccup is logged, never turned into a webhook failure the provider would retry."""
    from temporalio.service import RPCError

    try:
        await call
    except RPCError as exc:
        log.warning("schedule_trigger_failed", what=what, status=exc.status.name)


def _inner(connector: object) -> object:
    """The connector itself, also when workers.providers wrapped it (InboundWithFollowUp keeps it as `inner`)."""
    return getattr(connector, "inner", connector)


class WebhookHooks:
    """The API's work around webhook delivery (call `before_dispatch` on a new delivery's parsed result, deliver
    its events, then `after_dispatch`):

    - Google: the route checks notifications against the channels in the database (the worker's keeper opens them),
      not an in-memory set. (A ping's `sync_sources` are triggered by the API's dispatch.)
    - Outlook: `reauthorizationRequired` and `subscriptionRemoved` flag the subscription and trigger the renewal
      Schedule (changes and `missed` arrive as `sync_sources`, like Google's pings).
    - Booking webhooks: a body naming one booking and one Zoom meeting links them (connectors.zoom.links).
    - Zoom: events of a linked meeting become attendance evidence for the booking's case.
    """

    def __init__(self, deps: Dependencies, connectors: Mapping[str, object]) -> None:
        from connectors.google.channels import SqliteChannelStore
        from connectors.google.inbound import GoogleCalendarInbound
        from connectors.local.meeting_links import MeetingLinks
        from connectors.outlook.subscriptions import SqliteSubscriptionStore
        from connectors.zoom.links import ZoomAttendance, ZoomLinker

        salt = deps.settings.id_salt
        links = MeetingLinks(deps.db)
        self.linker = ZoomLinker(links, salt)
        self.zoom = ZoomAttendance(links, salt, calendar=deps.calendar, contact_lookup=deps.crm.contact)
        self.subscriptions = SqliteSubscriptionStore(deps.db)
        google = _inner(connectors.get("google"))
        if isinstance(google, GoogleCalendarInbound):
            google.channels = SqliteChannelStore(deps.db)

    def before_dispatch(self, connector: object, raw: RawRequest, result: WebhookResult) -> WebhookResult:
        from connectors.inbound import PayloadError
        from connectors.zoom.inbound import ZoomInbound

        inner = _inner(connector)
        if isinstance(inner, ZoomInbound):
            try:
                return self.zoom.resolve(inner, raw, result)
            except (PayloadError, ValueError):
                return result  # not readable as attendance: the connector's own (unlinked) reading stands
        if result.events:
            self.linker.observe(result, raw.body)
        return result

    async def after_dispatch(self, connector: object, raw: RawRequest, result: WebhookResult,
                             client: Client | None) -> None:
        from connectors.outlook.inbound import OutlookInbound
        from connectors.outlook.subscriptions import note_lifecycle

        inner = _inner(connector)
        if not isinstance(inner, OutlookInbound):
            return
        if note_lifecycle(self.subscriptions, inner.lifecycle(raw)) and client is not None:
            await _quietly("push renewal", trigger_push_renewal(client))
