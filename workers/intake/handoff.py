"""The durable hand-off between a verified webhook and its effects, so the acknowledgement never waits on Temporal.

A delivery that passed its signature check is parsed, checked against the receipt log and written to the intake
queue (connectors/local/intake_queue.py) in one transaction; a STOP among its messages, or an audience unsubscribe
among its consent notices, opts its address out in the same breath. When the API is calm it then applies it at
once, under a lease, and answers with what it did if that finished within `NOSHOW_API_ACK_SECONDS`; otherwise (other
acknowledgements waiting, a backlog, a slow or unreachable Temporal) it answers 202 with the delivery's intake id,
and the work finishes on its own. A drainer in
every API process takes rows whose lease lapsed or whose attempt failed, with backoff, so a crash after the ack
loses nothing and any replica can finish another's rows. Past `NOSHOW_API_INTAKE_MAX_PENDING` waiting rows the
route answers 503 with `Retry-After` instead of queueing without bound; providers retry later.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

import structlog
from pydantic import BaseModel, Field
from temporalio.service import RPCError

from connectors.contract import WebhookResult
from connectors.local.db import Conn
from connectors.local.intake_queue import IntakeItem, IntakeQueue, NewDelivery
from domain.intake import WebhookAck
from domain.models import Reply
from workers.dependencies import Dependencies
from workers.intake.cases import CaseService
from workers.intake.consent_notices import record_consent_notice
from workers.intake.edge import on_edge
from workers.intake.replies import opt_out_at_edge
from workers.intake.webhooks import Prepared, WebhookIntake
from workers.settings import ApiSettings

log = structlog.get_logger(__name__)
T = TypeVar("T")
R = TypeVar("R")

LEASE = timedelta(seconds=15)  # longer than an application takes; a lapsed lease means its holder died (or hung: a
# second application is harmless, each effect being keyed by the provider's ids)
MAX_BACKOFF = timedelta(minutes=5)
# a delivery that fails for a reason other than Temporal being unreachable (a bug, a payload no case accepts)
# is tried this many times, then kept as `failed` for a person (GET /ops/intake, POST /ops/intake/{id}/retry)
MAX_ATTEMPTS = 8
DRAIN_EVERY = 0.5  # seconds between looks at the queue when it is empty
QUIET = 0.1  # seconds without a new delivery that count as a lull
QUIET_WAIT = 2.0  # the longest the drainer defers to arriving deliveries before it takes a round anyway
PRUNE_EVERY = 600  # drain rounds between prunes of applied rows
# a delivery is applied before its answer only while at most this many other acknowledgements are on their way and
# at most BACKLOG_INLINE rows were waiting at the last count; past either, a burst has begun: its applications would
# share the event loop and the store with the acknowledgements still to be written, so they wait for the drainer
ACKS_AHEAD_INLINE = 2
BACKLOG_INLINE = 16


class Arrivals:
    """The acknowledgements in progress: webhooks that arrived and whose hand-off is not yet written."""

    def __init__(self) -> None:
        self.waiting = 0

    @contextlib.contextmanager
    def arriving(self) -> Iterator[Ticket]:
        ticket = Ticket(self)
        self.waiting += 1
        try:
            yield ticket
        finally:
            ticket.written()


class Ticket:
    """One acknowledgement's place among the arrivals, given up once its delivery is written down (its own
    application, if any, is no longer in the way of the others)."""

    def __init__(self, arrivals: Arrivals) -> None:
        self.arrivals, self.counted = arrivals, True

    def others(self) -> int:
        return self.arrivals.waiting - (1 if self.counted else 0)

    def written(self) -> None:
        if self.counted:
            self.counted = False
            self.arrivals.waiting -= 1


class Backlogged(Exception):
    """More deliveries are waiting than the queue accepts: the provider should retry later."""


class GroupCommit(Generic[T, R]):
    """Calls arriving together made as one: while one batch runs (off the event loop, one transaction), the next
    ones gather, so a burst costs a few commits instead of one each (SQLite has one writer at a time, and every
    commit on Postgres is a round trip and a flush)."""

    MAX_BATCH = 200

    def __init__(self, run: Callable[[list[T]], list[R]],
                 offload: Callable[[Callable[[list[T]], list[R]], list[T]], Awaitable[list[R]]] = asyncio.to_thread
                 ) -> None:
        self.run, self.offload = run, offload
        self.waiting: list[tuple[T, asyncio.Future[R]]] = []
        self.flushing: asyncio.Task[None] | None = None

    async def __call__(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self.waiting.append((item, future))
        if self.flushing is None or self.flushing.done():
            self.flushing = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self.waiting:
            batch, self.waiting = self.waiting[:self.MAX_BATCH], self.waiting[self.MAX_BATCH:]
            try:
                results = await self.offload(self.run, [item for item, _ in batch])
            except Exception as exc:  # each waiting caller fails as its own call would have
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


class QueuedDelivery(BaseModel):
    """What the queue keeps of a delivery: its parsed content and what the edge already did for it."""

    result: WebhookResult
    renew_push: bool = False
    stopped_at_edge: dict[str, bool] = Field(default_factory=dict)  # reply id -> this STOP opted the address out


def backoff(attempts: int) -> timedelta:
    return min(MAX_BACKOFF, timedelta(seconds=2 ** min(attempts, 10)))


class Handoff:
    def __init__(self, intake: WebhookIntake, deps: Dependencies, api: ApiSettings) -> None:
        self.intake, self.deps = intake, deps
        self.queue = IntakeQueue(deps.db)
        # the write before the ack on the acknowledgement's threads; what follows it on the default pool
        self.put = GroupCommit[NewDelivery, str | None](
            lambda items: self.queue.put_many(items, datetime.now(UTC), LEASE), offload=on_edge)
        self.finish = GroupCommit[str, None](lambda ids: self.queue.finish_many(ids, datetime.now(UTC)))
        self.ack_seconds = api.ack_seconds
        self.max_pending = api.intake_max_pending
        self.inline = asyncio.Semaphore(api.intake_inline)
        self.owner = f"{socket.gethostname()[:40]}:{uuid.uuid4().hex[:8]}"
        self.running: set[asyncio.Task[WebhookAck | None]] = set()
        self._pending_seen = (-1e9, 0)
        self._pending_counted = 0  # the table's count at the last look, without this process's puts since
        self.last_arrival = -1e9
        self.arrivals = Arrivals()

    async def receive(self, prepared: Prepared, cases: CaseService | None,
                      temporal_up: Callable[[], Awaitable[bool]], wait: float | None = None,
                      ticket: Ticket | None = None) -> tuple[WebhookAck, int]:
        """(acknowledgement, status): 200 with the delivery's effects, 200 `duplicate`, or 202 `queued`. `wait`
        (a sender's `Prefer: wait=N`) replaces the ack deadline and applies the delivery at once however busy.
        `ticket` is this delivery's place among `arrivals` (the route takes it on arrival)."""
        with contextlib.ExitStack() as stack:
            if ticket is None:
                ticket = stack.enter_context(self.arrivals.arriving())
            return await self._receive(prepared, cases, temporal_up, wait, ticket)

    async def _receive(self, prepared: Prepared, cases: CaseService | None,
                       temporal_up: Callable[[], Awaitable[bool]], wait: float | None,
                       ticket: Ticket) -> tuple[WebhookAck, int]:
        self.last_arrival = asyncio.get_running_loop().time()
        if await self._backlog() >= self.max_pending:
            raise Backlogged
        now = datetime.now(UTC)
        stopped = await on_edge(self._consent_first, prepared.result) if prepared.result.messages else {}
        for notice in prepared.result.consent:  # an audience unsubscribe holds before the ack, however long the queue
            await on_edge(record_consent_notice, self.deps, notice)
        delivery = QueuedDelivery(result=prepared.result, renew_push=prepared.renew_push, stopped_at_edge=stopped)
        inline = cases is not None and (wait is not None or self._calm(ticket)) and await temporal_up()
        intake_id = await self.put(NewDelivery(
            prepared.provider, delivery.model_dump_json(), claim_for=self.owner if inline else None,
            receipt=lambda conn: self._keep(prepared, conn, now)))
        ticket.written()
        if intake_id is None:
            return WebhookAck(duplicate=True), 200
        at, count = self._pending_seen
        self._pending_seen = (at, count + 1)
        queued = WebhookAck(queued=True, intake_id=intake_id, unknown_types=prepared.result.unknown_types)
        if not inline or cases is None:
            return queued, 202
        item = IntakeItem(intake_id=intake_id, provider=prepared.provider, payload="", attempts=1)
        task = asyncio.create_task(self._apply(item, delivery, cases))
        self.running.add(task)
        task.add_done_callback(self.running.discard)
        try:
            ack = await asyncio.wait_for(asyncio.shield(task), self.ack_seconds if wait is None else wait)
        except TimeoutError:
            return queued, 202
        return (ack, 200) if ack is not None else (queued, 202)

    def _keep(self, prepared: Prepared, conn: Conn, now: datetime) -> bool:
        """The receipt, and the writes that belong to the hand-off (a mailbox cursor), in the queue's transaction."""
        if not self.intake.claim(prepared, conn, now):
            return False
        for write in prepared.result.on_handoff:
            write(conn)
        return True

    def _calm(self, ticket: Ticket) -> bool:
        """Whether applying this delivery before answering holds no other acknowledgement back."""
        return (not self.inline.locked() and ticket.others() <= ACKS_AHEAD_INLINE
                and self._pending_counted <= BACKLOG_INLINE)

    def _consent_first(self, result: WebhookResult) -> dict[str, bool]:
        stopped: dict[str, bool] = {}
        for message in result.messages:
            if not message.sender:
                continue
            reply = Reply(reply_id=message.provider_message_id, channel=message.channel, text=message.text[:5000],
                          received_at=message.received_at)
            first = opt_out_at_edge(self.deps, reply, message.sender)
            if first is not None:
                stopped[message.provider_message_id] = first
        return stopped

    async def _backlog(self) -> int:
        """Waiting rows, counted at most once a second (and this process's own puts since): a burst reads the
        count, not the table."""
        loop = asyncio.get_running_loop()
        at, count = self._pending_seen
        if loop.time() - at >= 1.0:
            count = await on_edge(self.queue.pending)
            self._pending_seen = (loop.time(), count)
            self._pending_counted = count
        return count

    async def _apply(self, item: IntakeItem, delivery: QueuedDelivery, cases: CaseService) -> WebhookAck | None:
        """Apply one row and settle it: done, or due again after a backoff. None when the attempt failed."""
        async with self.inline:
            try:
                ack = await self.intake.apply(item.provider, delivery.result, cases, renew_push=delivery.renew_push,
                                              stopped_at_edge=delivery.stopped_at_edge)
            except Exception as exc:
                await asyncio.to_thread(self._failed, item, exc)
                return None
        await self.finish(item.intake_id)
        return ack

    def _failed(self, item: IntakeItem, exc: Exception) -> None:
        kind = type(exc).__name__
        if isinstance(exc, RPCError):
            kind = f"RPCError.{exc.status.name}"
        give_up = not isinstance(exc, RPCError) and item.attempts >= MAX_ATTEMPTS
        log.warning("intake_apply_failed", intake_id=item.intake_id, provider=item.provider, error=kind,
                    attempts=item.attempts, gave_up=give_up)
        self.queue.retry_later(item.intake_id, kind, datetime.now(UTC) + backoff(item.attempts), give_up=give_up)

    async def drain_once(self, cases: CaseService, limit: int = 20) -> int:
        """Apply the due rows nobody holds; how many were taken."""
        items = await asyncio.to_thread(self.queue.claim_due, self.owner, datetime.now(UTC), limit, LEASE)
        work = []
        for item in items:
            try:
                delivery = QueuedDelivery.model_validate_json(item.payload)
            except ValueError as exc:  # written by a newer or older version that reads it differently
                await asyncio.to_thread(self._failed, item.model_copy(update={"attempts": MAX_ATTEMPTS}), exc)
                continue
            work.append(self._apply(item, delivery, cases))
        await asyncio.gather(*work)
        return len(items)

    async def drain_forever(self, cases: Callable[[], CaseService | None],
                            temporal_up: Callable[[], Awaitable[bool]]) -> None:
        """The API's background drainer: runs until cancelled, quietly through Temporal or store outages."""
        rounds = 0
        loop = asyncio.get_running_loop()
        while True:
            taken = 0
            waited = 0.0
            # acknowledgements first: during a burst the queue waits for a lull (at most QUIET_WAIT)
            while loop.time() - self.last_arrival < QUIET and waited < QUIET_WAIT:
                await asyncio.sleep(QUIET)
                waited += QUIET
            service = cases()
            try:
                if service is not None and await temporal_up():
                    taken = await self.drain_once(service)
                rounds += 1
                if rounds % PRUNE_EVERY == 0:
                    await asyncio.to_thread(self.queue.prune, datetime.now(UTC))
            except Exception as exc:  # the store or Temporal hiccuped: the rows wait, the loop goes on
                log.warning("intake_drain_failed", error=type(exc).__name__)
            if not taken:
                await asyncio.sleep(DRAIN_EVERY)

    async def wait_idle(self) -> None:
        """Let the applications already running finish (shutdown, tests)."""
        with contextlib.suppress(Exception):
            await asyncio.gather(*list(self.running), return_exceptions=True)
