"""A verified, parsed webhook delivery turned into its effects: events to cases, replies to their cases,
delivery statuses to the outbox and consent, Slack decisions to reviews, pings to reconciliation.

Around that dispatch sit the provider-specific steps no parser can take alone:

- Google: notifications are checked against the channels in the database (the worker's keeper opens them),
  so a restart keeps accepting their pings; a ping's `sync_sources` trigger that source's reconciliation.
- Outlook: `reauthorizationRequired` and `subscriptionRemoved` flag the subscription and trigger the renewal
  Schedule (changes and `missed` arrive as `sync_sources`, like Google's pings).
- Booking webhooks: a body naming one booking and one Zoom meeting links them (connectors.zoom.links).
- Zoom: events of a linked meeting become attendance evidence for the booking's case.

A re-delivery (same provider dedupe key) has no second effect: the receipt log answers it as a duplicate. For a
provider that signs no timestamp (Twilio, Cal.com) the key and a digest of the signed content are remembered for
`UNSIGNED_TIME_HORIZON`, so a captured request replayed long after is still a duplicate, and the same signed
content read as different parameters (a Twilio form re-split around its unseparated signature) is refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from temporalio.service import RPCError

from connectors.contract import RawRequest, SignatureError, WebhookResult
from connectors.google.channels import SqliteChannelStore
from connectors.google.inbound import GoogleCalendarInbound
from connectors.inbound import InboundBase, PayloadError
from connectors.local.db import Conn
from connectors.local.meeting_links import MeetingLinks
from connectors.local.webhook_receipts import UNSIGNED_TIME_HORIZON, UnknownTypes, WebhookReceipts
from connectors.outlook.inbound import OutlookInbound
from connectors.outlook.subscriptions import SqliteSubscriptionStore, note_lifecycle
from connectors.zoom.inbound import ZoomInbound
from connectors.zoom.links import ZoomAttendance, ZoomLinker
from domain import addresses
from domain.intake import WebhookAck
from domain.models import Reply
from workers.dependencies import Dependencies
from workers.intake.calls import record_missed_call, tell_case, wants_evidence
from workers.intake.cases import CaseService
from workers.intake.consent_notices import record_consent_notice
from workers.intake.edge import on_edge
from workers.intake.reviews import apply_slack_decision
from workers.intake.statuses import record_delivery_status
from workers.providers.inbound import unwrap
from workers.temporal.schedules import trigger_push_renewal, trigger_sync

log = structlog.get_logger(__name__)


async def _quietly(what: str, call: Awaitable[object]) -> None:
    """A trigger is an optimisation (the Schedules run on their own anyway): a missing Schedule or a Temporal
    hiccup is logged, never turned into a webhook failure the provider would retry."""
    try:
        await call
    except RPCError as exc:
        log.warning("schedule_trigger_failed", what=what, status=exc.status.name)


@dataclass(frozen=True)
class Prepared:
    """A verified delivery ready to be handed off: its parsed content and how the receipt log will know it."""

    provider: str
    result: WebhookResult
    renew_push: bool
    key: str | None
    long: bool
    digests: tuple[str, str] | None


class WebhookIntake:
    def __init__(self, deps: Dependencies, connectors: Mapping[str, object]) -> None:
        self.deps = deps
        salt = deps.settings.auth.id_salt
        links = MeetingLinks(deps.db)
        self.linker = ZoomLinker(links, salt)
        self.zoom = ZoomAttendance(links, salt, calendar=deps.calendar, contact_lookup=deps.crm.contact)
        self.subscriptions = SqliteSubscriptionStore(deps.db)
        self.receipts = WebhookReceipts(deps.db)
        self.unknown_types = UnknownTypes(deps.db)
        self.slack_reviewers = deps.settings.routing.slack_reviewers
        self.background: set[asyncio.Task[None]] = set()
        google = unwrap(connectors.get("google"))
        if isinstance(google, GoogleCalendarInbound):
            google.channels = SqliteChannelStore(deps.db)

    async def prepare(self, provider: str, connector: object, raw: RawRequest, result: WebhookResult
                      ) -> Prepared | None:
        """What a verified delivery will do, with the provider-specific steps that read only the request and the
        database done; None for a re-delivery (it has no second effect). Raises SignatureError for a replay the
        signature alone could not tell apart."""
        # one trip off the event loop for all of it: other deliveries keep being read and acknowledged meanwhile
        return await on_edge(self._prepare, provider, connector, raw, result)

    def _prepare(self, provider: str, connector: object, raw: RawRequest, result: WebhookResult) -> Prepared | None:
        key = f"{provider}:{result.dedupe_key}" if result.dedupe_key else None
        inner = unwrap(connector)
        timeless = isinstance(inner, InboundBase) and not inner.signs_timestamp
        digests = inner.signed_digests(raw) if isinstance(inner, InboundBase) else None
        if timeless and isinstance(inner, InboundBase):
            signed_at = inner.signed_time(raw)
            if signed_at is not None and datetime.now(UTC) - signed_at > UNSIGNED_TIME_HORIZON:
                raise SignatureError("signed creation time older than the replay horizon")
        if digests is not None:
            verdict = self.receipts.digest_verdict(provider, *digests)
            if verdict == "altered":
                log.warning("webhook_resplit_refused", provider=provider)
                raise SignatureError("signature already used for different parameters")
            if verdict == "duplicate":
                return None
        if key is not None and self.receipts.seen(key):
            return None
        result = self._before(connector, raw, result)
        renew = isinstance(inner, OutlookInbound) and note_lifecycle(self.subscriptions, inner.lifecycle(raw))
        return Prepared(provider=provider, result=result, renew_push=renew, key=key, long=timeless, digests=digests)

    def claim(self, prepared: Prepared, conn: Conn, now: datetime) -> bool:
        """Remember the delivery in the caller's transaction; False when a copy of it got there first."""
        if prepared.key is None and prepared.digests is None:
            return True
        return self.receipts.claim(conn, prepared.key, now, long=prepared.long, digests=prepared.digests,
                                   provider=prepared.provider)

    async def apply(self, provider: str, result: WebhookResult, cases: CaseService, *, renew_push: bool = False,
                    stopped_at_edge: Mapping[str, bool] | None = None) -> WebhookAck:
        """The delivery's effects: cases started or signalled, replies routed, statuses recorded. Safe to run
        twice (each effect is keyed by the provider's own ids)."""
        ack = await self._dispatch(provider, result, cases, stopped_at_edge or {})
        if renew_push:
            await _quietly("push renewal", trigger_push_renewal(cases.client))
        return ack

    def normalise(self, result: WebhookResult, cases: CaseService) -> WebhookResult:
        """Events' contacts and messages' senders in canonical form (addresses.AddressError when one cannot be).
        Routing normalises senders again on its own; checking them here refuses the whole delivery first."""
        region = self.deps.settings.routing.default_region
        for message in result.messages:
            addresses.normalise(message.channel, message.sender, region)
        return result.model_copy(update={"events": [cases.normalised(e) for e in result.events]})

    def _before(self, connector: object, raw: RawRequest, result: WebhookResult) -> WebhookResult:
        inner = unwrap(connector)
        if isinstance(inner, ZoomInbound):
            try:
                return self.zoom.resolve(inner, raw, result)
            except (PayloadError, ValueError):
                return result  # not readable as attendance: the connector's own (unlinked) reading stands
        if result.events:
            self.linker.observe(result, raw.body)
        return result

    async def _dispatch(self, provider: str, result: WebhookResult, cases: CaseService,
                        stopped_at_edge: Mapping[str, bool]) -> WebhookAck:
        ack = WebhookAck(unknown_types=result.unknown_types)
        for event in result.events:
            ack.events.append(await cases.submit_event(event))
        for message in result.messages:
            reply = Reply(reply_id=message.provider_message_id, channel=message.channel, text=message.text[:5000],
                          received_at=message.received_at)
            ack.replies.append(await cases.submit_reply(
                reply, sender=message.sender, stopped_at_edge=stopped_at_edge.get(message.provider_message_id)))
        for status in result.statuses:
            await asyncio.to_thread(record_delivery_status, self.deps, status)
        for notice in result.consent:
            await asyncio.to_thread(record_consent_notice, self.deps, notice)
        for call in result.missed_calls:
            case_id = await asyncio.to_thread(record_missed_call, self.deps, call)
            if case_id is not None and await asyncio.to_thread(wants_evidence, self.deps, case_id):
                await tell_case(cases.client, case_id, call)
        for action in result.review_actions:
            # Slack wants its answer within 3 s: acknowledge now, apply the decision right after
            task = asyncio.create_task(apply_slack_decision(cases, self.slack_reviewers, action))
            self.background.add(task)
            task.add_done_callback(self.background.discard)
        for source in result.sync_sources:  # a Google / Graph ping: reconcile that source now
            await trigger_sync(cases.client, source)
        if result.unknown_types:
            await asyncio.to_thread(self.unknown_types.count, provider, result.unknown_types)
            log.info("webhook_unknown_types", provider=provider, count=len(result.unknown_types))
        return ack
