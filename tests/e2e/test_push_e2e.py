"""Google push channels and Graph subscriptions end to end: the worker's renewal Schedule opens them at the fakes
and in the local database, the API accepts notifications only for channels it opened (unknown or stopped ones get
401 and start nothing), a ping runs the source's reconciliation at once, and a Graph lifecycle notification gets
its subscription renewed. Real dev server, in-process API, provider fakes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from connectors.google.channels import ChannelKeeper, SqliteChannelStore
from connectors.google.client import GoogleCalendarClient
from connectors.outlook.subscriptions import SqliteSubscriptionStore
from tests.e2e.provider_helpers import PUBLIC_BASE_URL, ProviderStack, iso, provider_stack
from tests.fakes.providers import FakeGoogleCalendar, FakeGraph
from tests.helpers import eventually
from workers.temporal.schedules import PUSH_SCHEDULE_ID, ensure_push_schedule, ensure_schedules, schedule_id

pytestmark = [pytest.mark.timeout(120)]

CAL = "ops@example.org"
STATE = "graph-e2e-client-state"


@pytest.fixture
def google() -> Iterator[FakeGoogleCalendar]:
    with FakeGoogleCalendar() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake  # type: ignore[misc]


def push_env(google: FakeGoogleCalendar, graph: FakeGraph) -> dict[str, str]:
    return {
        "NOSHOW_GOOGLE_CHANNELS": "true", "NOSHOW_GOOGLE_ACCESS_TOKEN": "ya29.e2e", "NOSHOW_GOOGLE_CALENDAR_ID": CAL,
        "NOSHOW_GOOGLE_BASE_URL": google.base_url + "/calendar/v3",
        "NOSHOW_GRAPH_CLIENT_STATE": STATE, "NOSHOW_GRAPH_ACCESS_TOKEN": "graph-e2e", "NOSHOW_GRAPH_USER": CAL,
        "NOSHOW_GRAPH_BASE_URL": graph.base_url + "/v1.0",
    }


def google_event(event_id: str, start: datetime) -> dict[str, Any]:
    return {"id": event_id, "status": "confirmed", "updated": iso(datetime.now(UTC)),
            "start": {"dateTime": iso(start)}, "end": {"dateTime": iso(start + timedelta(minutes=30))},
            "attendees": [{"email": f"guest-{event_id}@example.com", "responseStatus": "accepted"}]}


async def reconcile_runs(stack: ProviderStack, source: str) -> int:
    query = f"TaskQueue = '{stack.task_queue}' AND WorkflowId STARTS_WITH '{schedule_id(source)}'"
    return len([w async for w in stack.client.list_workflows(query)])


async def ping(stack: ProviderStack, channel_id: str, token: str, number: str) -> Any:
    return await stack.http.post("/webhooks/google", content=b"", headers={
        "x-goog-channel-id": channel_id, "x-goog-channel-token": token, "x-goog-resource-state": "exists",
        "x-goog-message-number": number, "x-goog-resource-id": f"res-{CAL}",
        "x-goog-channel-expiration": "Tue, 19 Nov 2030 01:13:52 GMT"})


async def test_push_channels_are_opened_renewed_and_only_ours_are_heard(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        google: FakeGoogleCalendar, graph: FakeGraph) -> None:
    async with provider_stack(client, task_queue, tmp_path, monkeypatch, push_env(google, graph)) as stack:
        try:
            await ensure_schedules(client, ["google", "outlook"], task_queue, timedelta(hours=6))
            assert await ensure_push_schedule(client, ["google", "outlook"], task_queue, timedelta(hours=6)) \
                == PUSH_SCHEDULE_ID
            channels = SqliteChannelStore(stack.deps.db)
            subscriptions = SqliteSubscriptionStore(stack.deps.db)
            [channel] = await eventually(lambda: _sync(channels.all), lambda cs: len(cs) == 1)
            [sub] = await eventually(lambda: _sync(subscriptions.all), lambda ss: len(ss) == 1)
            assert list(google.channels) == [channel.channel_id] and list(graph.subscriptions) == [sub.subscription_id]
            assert google.channels[channel.channel_id]["address"] == f"{PUBLIC_BASE_URL}/webhooks/google"
            assert graph.subscriptions[sub.subscription_id]["notificationUrl"] == f"{PUBLIC_BASE_URL}/webhooks/outlook"

            # the Graph validation handshake is echoed as text
            hello = await stack.http.post("/webhooks/outlook?validationToken=Validation%3A+Testing+reachability")
            assert hello.status_code == 200 and hello.text == "Validation: Testing reachability"
            assert hello.headers["content-type"].startswith("text/plain")

            # a notification from a channel we never opened is refused and runs nothing
            before = await reconcile_runs(stack, "google")
            forged = await ping(stack, f"chan-{uuid.uuid4()}", channel.token, "1")
            assert forged.status_code == 401
            wrong_token = await ping(stack, channel.channel_id, "not-the-token", "2")
            assert wrong_token.status_code == 401

            # ours: reconciliation runs now and finds the booking the ping was about
            start = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
            google.events["evt-push-1"] = google_event("evt-push-1", start)
            heard = await ping(stack, channel.channel_id, channel.token, "3")
            assert heard.status_code == 200, heard.text
            await eventually(lambda: reconcile_runs(stack, "google"), lambda n: n > before)
            case_id = _case_id(stack, "google", "evt-push-1")
            await eventually(lambda: _case_ids(stack), lambda ids: case_id in ids)
            await stack.reach(case_id, "watching")

            # the channel is renewed (here: forced due); the stopped one is refused from then on
            keeper = ChannelKeeper(GoogleCalendarClient("ya29.e2e", base_url=google.base_url + "/calendar/v3"),
                                   channels, f"{PUBLIC_BASE_URL}/webhooks/google", CAL)
            assert channel.expiration is not None
            renewed = keeper.maintain(channel.expiration - timedelta(hours=1))
            assert renewed.stopped == [channel.channel_id] and renewed.opened
            assert (await ping(stack, channel.channel_id, channel.token, "4")).status_code == 401
            fresh = channels.get(renewed.opened)
            assert fresh is not None and (await ping(stack, fresh.channel_id, fresh.token, "1")).status_code == 200

            # Graph asks for reauthorization: flagged, and the renewal Schedule PATCHes it at once
            lifecycle = {"value": [{"subscriptionId": sub.subscription_id, "clientState": STATE,
                                    "subscriptionExpirationDateTime": iso(sub.expiration),
                                    "tenantId": "t", "lifecycleEvent": "reauthorizationRequired"}]}
            asked = await stack.http.post("/webhooks/outlook", content=json.dumps(lifecycle).encode(),
                                          headers={"content-type": "application/json"})
            assert asked.status_code == 200, asked.text
            await eventually(lambda: _sync(lambda: graph.calls("PATCH", "/subscriptions/")), lambda c: len(c) >= 1)
            await eventually(lambda: _sync(lambda: subscriptions.get(sub.subscription_id)),
                             lambda s: s is not None and s.status == "active")
            # a forged clientState is refused
            lifecycle["value"][0]["clientState"] = "guess"
            refused = await stack.http.post("/webhooks/outlook", content=json.dumps(lifecycle).encode())
            assert refused.status_code == 401
        finally:
            for sid in (schedule_id("google"), schedule_id("outlook"), PUSH_SCHEDULE_ID):
                await client.get_schedule_handle(sid).delete()


async def _sync(fn: Any) -> Any:
    return fn()


async def _case_ids(stack: ProviderStack) -> list[str]:
    query = f"TaskQueue = '{stack.task_queue}' AND WorkflowType = 'RecoveryCase'"
    return [w.id async for w in stack.client.list_workflows(query)]


def _case_id(stack: ProviderStack, source: str, appointment_id: str) -> str:
    from domain.ids import case_id_for

    return case_id_for(source, appointment_id, stack.deps.settings.auth.id_salt)
