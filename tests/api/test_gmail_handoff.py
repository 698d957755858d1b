"""A Gmail reply is never lost between reading the mailbox and handing the delivery off: the Pub/Sub push reads
`history.list` from the stored history id, and the id moves only in the transaction that writes the delivery to
the intake queue. Here the hand-off fails after the history was read (the queue is full, so the push is answered
503 and Pub/Sub redelivers it): the next push reads the same reply again and it reaches the queue."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client

from connectors.gmail.replies import HistoryStore
from tests.api.conftest import envelope
from tests.api.test_intake_handoff import Outage, intake, outage_stack
from tests.e2e.test_gmail_e2e import AUDIENCE, gmail_env
from tests.fakes.gmail_fake import GmailFake
from tests.fuzz.test_provider_webhooks import PROVIDER_ENV

MAILBOX = "clinic@example.com"


@pytest.fixture
def gmail() -> Iterator[GmailFake]:
    with GmailFake(mailbox=MAILBOX) as fake:
        yield fake  # type: ignore[misc]


@pytest_asyncio.fixture
async def outage(client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 gmail: GmailFake) -> AsyncIterator[Outage]:
    """The API with Gmail's push route, a Temporal frontend that never answers and an intake queue of 2."""
    async with outage_stack(client, task_queue, tmp_path, monkeypatch, {**PROVIDER_ENV, **gmail_env(gmail)},
                            max_pending=2) as stack:
        yield stack


async def push(outage: Outage, gmail: GmailFake, pubsub_id: str) -> httpx.Response:
    return await outage.http.post("/webhooks/gmail", content=gmail.push_body(pubsub_id),
                                  headers={"authorization": f"Bearer {gmail.push_token(AUDIENCE)}",
                                           "content-type": "application/json"})


def routed(outage: Outage, reply_id: str) -> bool:
    with outage.deps.db.connect() as conn:
        return conn.execute("SELECT 1 FROM inbound WHERE reply_id = ?", (reply_id,)).fetchone() is not None


async def test_a_reply_read_before_a_failed_hand_off_is_read_again_by_the_next_push(
        outage: Outage, gmail: GmailFake) -> None:
    first = await push(outage, gmail, "pubsub-1")  # the watch's first push: the history starts here
    assert first.status_code in (200, 202), first.text
    history = HistoryStore(outage.deps.db)
    start = history.get(MAILBOX)
    assert start == str(gmail.history_id)
    reply_id = f"reply-{uuid.uuid4().hex[:8]}@mail.example.com"
    gmail.deliver("Pat Example <pat@example.com>", "yes please", reply_id)
    assert (await outage.post_event(envelope())).status_code == 202  # the queue is full: 2 wait for Temporal
    assert (await intake(outage))["pending"] == 2
    reads = len(gmail.calls("GET", "/history"))

    refused = await push(outage, gmail, "pubsub-2")  # the history is read, then the hand-off fails
    assert refused.status_code == 503, refused.text
    assert len(gmail.calls("GET", "/history")) == reads + 1  # the mailbox was read: the failure came after it
    assert history.get(MAILBOX) == start  # so the id did not move past the reply

    cases = await outage.temporal_returns()
    assert await outage.state.handoff.drain_once(cases) == 2  # room in the queue again
    assert not routed(outage, reply_id)
    await asyncio.sleep(1.1)  # Pub/Sub retries after a backoff; the queue's waiting count is re-read each second
    again = await push(outage, gmail, "pubsub-2")  # Pub/Sub's redelivery of the refused push
    assert again.status_code in (200, 202), again.text
    assert again.json().get("duplicate") is not True
    await outage.state.handoff.drain_once(cases)  # applied now if the ack did not wait for it
    await outage.state.handoff.wait_idle()
    assert routed(outage, reply_id)  # the reply reached the engine
    assert history.get(MAILBOX) == str(gmail.history_id)  # and the id moved with its hand-off
