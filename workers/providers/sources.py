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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import structlog
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.case_events import CaseEventActivities, EventSubmitter, TaskSink
from activities.reconcile import PushActivities, ReconcileSource, StoredReconcileActivities
from connectors.local.db import LocalDb
from workers.providers.wiring import ProviderCheck
from workers.temporal.schedules import SCHEDULE_PREFIX

if TYPE_CHECKING:
    pass

log = structlog.get_logger(__name__)


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


# ---------------------------------------------------------------------------- delivery


def reconcile_activities(sources: dict[str, ReconcileSource], db: LocalDb, cases: EventSubmitter,
                         max_age: timedelta = timedelta(days=7), tasks: TaskSink | None = None,
                         salt: str = "noshow") -> list[Callable[..., object]]:
    """The three activities ReconcileSourceWorkflow calls, for the worker's activity list. `tasks` (the CRM)
    receives the "needs a human" tasks; `salt` (the deployment's id salt) keys the email hashes of Zoom links."""
    stored = StoredReconcileActivities(sources, db, max_age=max_age, salt=salt)
    return [stored.reconcile_source, stored.commit_reconcile,
            CaseEventActivities(cases, tasks).deliver_appointment_events]


# ---------------------------------------------------------------------------- schedules


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


