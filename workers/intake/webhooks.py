"""The API's work around webhook delivery, beyond parsing (call `before_dispatch` on a new delivery's parsed
result, hand its events to cases, then `after_dispatch`):

- Google: the route checks notifications against the channels in the database (the worker's keeper opens them),
  not an in-memory set. (A ping's `sync_sources` are triggered by the dispatch.)
- Outlook: `reauthorizationRequired` and `subscriptionRemoved` flag the subscription and trigger the renewal
  Schedule (changes and `missed` arrive as `sync_sources`, like Google's pings).
- Booking webhooks: a body naming one booking and one Zoom meeting links them (connectors.zoom.links).
- Zoom: events of a linked meeting become attendance evidence for the booking's case.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping

import structlog
from temporalio.client import Client
from temporalio.service import RPCError

from connectors.contract import RawRequest, WebhookResult
from connectors.google.channels import SqliteChannelStore
from connectors.google.inbound import GoogleCalendarInbound
from connectors.inbound import PayloadError
from connectors.local.meeting_links import MeetingLinks
from connectors.outlook.inbound import OutlookInbound
from connectors.outlook.subscriptions import SqliteSubscriptionStore, note_lifecycle
from connectors.zoom.inbound import ZoomInbound
from connectors.zoom.links import ZoomAttendance, ZoomLinker
from workers.dependencies import Dependencies
from workers.temporal.schedules import trigger_push_renewal

log = structlog.get_logger(__name__)



async def _quietly(what: str, call: Awaitable[None]) -> None:
    """A trigger is an optimisation (the Schedules run on their own anyway): a missing Schedule or a Temporal
    hiccup is logged, never turned into a webhook failure the provider would retry."""

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

        salt = deps.settings.auth.id_salt
        links = MeetingLinks(deps.db)
        self.linker = ZoomLinker(links, salt)
        self.zoom = ZoomAttendance(links, salt, calendar=deps.calendar, contact_lookup=deps.crm.contact)
        self.subscriptions = SqliteSubscriptionStore(deps.db)
        google = _inner(connectors.get("google"))
        if isinstance(google, GoogleCalendarInbound):
            google.channels = SqliteChannelStore(deps.db)

    def before_dispatch(self, connector: object, raw: RawRequest, result: WebhookResult) -> WebhookResult:

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

        inner = _inner(connector)
        if not isinstance(inner, OutlookInbound):
            return
        if note_lifecycle(self.subscriptions, inner.lifecycle(raw)) and client is not None:
            await _quietly("push renewal", trigger_push_renewal(client))
