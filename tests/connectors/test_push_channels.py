"""Google push channels and Graph subscriptions: kept in the local database, opened and renewed before they
expire (watch first, then stop; PATCH, or recreate when Graph lost it), lifecycle notifications acted on, and the
renewal Schedule on the real dev server. Providers are the fakes in tests/fakes."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleOverlapPolicy, WorkflowFailureError
from temporalio.worker import Worker

from activities.reconcile import GoogleSource, PushActivities, ReconcileActivities
from connectors.contract import RawRequest, RetryableProviderError, SignatureError
from connectors.google.channels import ChannelKeeper, SqliteChannelStore
from connectors.google.client import GoogleCalendarClient
from connectors.google.inbound import GoogleCalendarInbound
from connectors.local.db import LocalDb
from connectors.outlook.client import OutlookClient
from connectors.outlook.inbound import OutlookInbound
from connectors.outlook.subscriptions import SqliteSubscriptionStore, SubscriptionKeeper, note_lifecycle
from domain.models import EventType
from domain.reconcile import PushInput, ReconcileInput, RenewPushInput, RenewPushResult
from tests.connectors.kit import fixture_bytes
from tests.fakes.providers import FakeGoogleCalendar, FakeGraph
from tests.helpers import eventually
from workers.provider_settings import GoogleSettings, GraphSettings
from workers.providers.sources import push_activities
from workers.settings import ApiSettings, Settings
from workers.temporal.schedules import PUSH_SCHEDULE_ID, ensure_push_schedule
from workflows.reconcile import RenewPushChannelsWorkflow

ADDRESS = "https://noshow.example.test/webhooks/google"
CAL = "ops@example.org"
STATE = "graph-client-state-secret"
NOW = datetime(2026, 1, 6, 12, tzinfo=UTC)


@pytest.fixture
def google() -> Iterator[FakeGoogleCalendar]:
    with FakeGoogleCalendar() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake  # type: ignore[misc]


def _keeper(fake: FakeGoogleCalendar, db: LocalDb) -> ChannelKeeper:
    client = GoogleCalendarClient("ya29.test", base_url=fake.base_url + "/calendar/v3")
    return ChannelKeeper(client, SqliteChannelStore(db), ADDRESS, CAL, ttl=timedelta(days=7),
                         renew_before=timedelta(days=1))


def _ping(channel_id: str, token: str, number: str = "7", state: str = "exists") -> RawRequest:
    return RawRequest(method="POST", url=ADDRESS, body=b"", headers={
        "x-goog-channel-id": channel_id, "x-goog-channel-token": token, "x-goog-resource-state": state,
        "x-goog-message-number": number, "x-goog-resource-id": "res"})


# ------------------------------------------------------------------------------------------------ Google


def test_channels_survive_a_restart_and_only_known_channels_are_accepted(google: FakeGoogleCalendar,
                                                                         tmp_path: Path) -> None:
    db = LocalDb(tmp_path / "local.db")
    report = _keeper(google, db).maintain(datetime.now(UTC))
    assert report.opened and report.stopped == [] and list(google.channels) == [report.opened]
    sent = google.calls("POST", "/events/watch")[0].json()
    assert sent["address"] == ADDRESS and sent["type"] == "web_hook" and len(sent["token"]) >= 32

    reopened = SqliteChannelStore(LocalDb(tmp_path / "local.db"))  # what a restarted API process sees
    [channel] = reopened.all()
    assert (channel.channel_id, channel.calendar_id, channel.source) == (report.opened, CAL, "google")
    assert channel.resource_id == f"res-{CAL}" and channel.expiration == report.expires
    inbound = GoogleCalendarInbound(reopened)
    now = datetime.now(UTC)
    inbound.check_signature(_ping(channel.channel_id, channel.token), now)
    assert inbound.parse(_ping(channel.channel_id, channel.token)).sync_sources == ["google"]
    assert inbound.parse(_ping(channel.channel_id, channel.token, state="sync")).sync_sources == []
    for forged in (_ping(channel.channel_id, "guess"), _ping("never-opened", channel.token)):
        with pytest.raises(SignatureError):
            inbound.check_signature(forged, now)


def test_a_channel_is_renewed_before_it_expires_new_first_then_the_old_one_stopped(google: FakeGoogleCalendar,
                                                                                  tmp_path: Path) -> None:
    db = LocalDb(tmp_path / "local.db")
    keeper = _keeper(google, db)
    first = keeper.maintain(datetime.now(UTC))
    assert first.expires is not None
    # well before the window: nothing to do
    quiet = keeper.maintain(first.expires - timedelta(days=3))
    assert (quiet.opened, quiet.stopped, quiet.active) == (None, [], first.active)
    assert len(google.calls("POST", "/events/watch")) == 1

    renewed = keeper.maintain(first.expires - timedelta(hours=12))
    assert renewed.opened and renewed.opened != first.active and renewed.stopped == [first.active]
    calls = [(r.method, r.path) for r in google.requests if r.path.endswith(("/watch", "/stop"))]
    assert calls[-2:] == [("POST", f"/calendar/v3/calendars/{CAL}/events/watch"),
                          ("POST", "/calendar/v3/channels/stop")]
    assert google.calls("POST", "/channels/stop")[-1].json() == {"id": first.active, "resourceId": f"res-{CAL}"}
    store = SqliteChannelStore(db)
    assert [c.channel_id for c in store.all()] == [renewed.opened] and list(google.channels) == [renewed.opened]
    old = store.get(first.active)
    assert old is None  # a stopped channel's notifications are refused from now on
    with pytest.raises(SignatureError):
        GoogleCalendarInbound(store).check_signature(_ping(first.active, "whatever"), datetime.now(UTC))


def test_a_renewal_interrupted_after_the_watch_converges_without_a_second_channel(google: FakeGoogleCalendar,
                                                                                 tmp_path: Path) -> None:
    keeper = _keeper(google, LocalDb(tmp_path / "local.db"))
    google.channel_ttl = timedelta(hours=36)  # Google granted less than we asked for
    first = keeper.maintain(datetime.now(UTC))
    google.channel_ttl = timedelta(days=7)
    due = datetime.now(UTC) + timedelta(hours=13)  # under a day left on the first channel
    # a run opened the new channel and died before stopping the old one (the worker restarted)
    google.requests.clear()
    new = keeper.client.watch(CAL, ADDRESS, None, timedelta(days=7))
    keeper.store.put(new)
    google.fail_next(503, {"error": {"code": 503, "message": "backendError"}})
    with pytest.raises(RetryableProviderError):
        keeper.maintain(due)  # nothing new to open: goes straight to the stop, which fails
    retried = keeper.maintain(due)  # the activity's retry
    assert retried.opened is None and retried.stopped == [first.active] and retried.active == new.channel_id
    assert len(google.calls("POST", "/events/watch")) == 1 and list(google.channels) == [new.channel_id]


def test_a_channel_google_already_forgot_is_forgotten_here_too(google: FakeGoogleCalendar, tmp_path: Path) -> None:
    keeper = _keeper(google, LocalDb(tmp_path / "local.db"))
    first = keeper.maintain(datetime.now(UTC))
    assert first.expires is not None
    google.channels.clear()  # expired at Google while the worker was down
    report = keeper.maintain(first.expires + timedelta(minutes=1))
    assert report.opened and report.stopped == [first.active]
    assert [c.channel_id for c in SqliteChannelStore(keeper.store.db).all()] == [report.opened]


def _event(event_id: str, start: datetime, status: str = "confirmed") -> dict[str, Any]:
    return {"id": event_id, "status": status, "updated": (start - timedelta(days=1)).isoformat(),
            "start": {"dateTime": start.isoformat()}, "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
            "attendees": [{"email": "pat@example.com", "responseStatus": "accepted"}],
            "conferenceData": {"entryPoints": [{"entryPointType": "video",
                                                "uri": "https://us02web.zoom.us/j/85012345678?pwd=x"}]}}


def test_an_expired_sync_token_is_a_full_resync_that_finds_what_was_missed(google: FakeGoogleCalendar) -> None:
    client = GoogleCalendarClient("ya29.test", base_url=google.base_url + "/calendar/v3")
    acts = ReconcileActivities({"google": GoogleSource(client, CAL)}, clock=lambda: NOW)
    google.events = {"old": _event("old", NOW + timedelta(days=1))}
    baseline = acts.reconcile_source(ReconcileInput(source="google"))
    acts.commit_reconcile(baseline)
    assert [e.type for e in baseline.events] == [EventType.booked] and not baseline.full_resync
    assert [(u.meeting_id, u.appointment.appointment_id) for u in baseline.links] == [("85012345678", "old")]

    # the token expired (410 fullSyncRequired) while a booking arrived unnoticed
    google.valid_sync_tokens.clear()
    google.events["new"] = _event("new", NOW + timedelta(days=2))
    resynced = acts.reconcile_source(ReconcileInput(source="google", cursor=baseline.cursor))
    assert google.calls("GET", "/events")[-2].query["syncToken"] == baseline.cursor
    assert "syncToken" not in google.calls("GET", "/events")[-1].query  # the full listing
    assert resynced.full_resync and resynced.cursor and resynced.cursor != baseline.cursor
    assert [(e.type, e.appointment.appointment_id) for e in resynced.events] == [(EventType.booked, "new")]


# ------------------------------------------------------------------------------------------------ Outlook


def _subscriptions(fake: FakeGraph, db: LocalDb) -> SubscriptionKeeper:
    """A short lifetime, so that "later" stays within what the fake (on the real clock) accepts."""
    client = OutlookClient("graph-token", base_url=fake.base_url + "/v1.0")
    return SubscriptionKeeper(client, SqliteSubscriptionStore(db), "users/ops@example.org/events",
                              "https://noshow.example.test/webhooks/outlook", STATE, lifetime=timedelta(hours=10),
                              renew_before=timedelta(hours=2))


def _lifecycle(subscription_id: str, event: str) -> RawRequest:
    body = json.loads(fixture_bytes("outlook", "lifecycle_reauthorize.json"))
    body["value"][0].update(subscriptionId=subscription_id, lifecycleEvent=event)
    return RawRequest(method="POST", url="https://noshow.example.test/webhooks/outlook", headers={},
                      body=json.dumps(body).encode())


def test_a_subscription_is_created_then_renewed_with_patch_before_it_expires(graph: FakeGraph, tmp_path: Path) -> None:
    db = LocalDb(tmp_path / "local.db")
    keeper = _subscriptions(graph, db)
    now = datetime.now(UTC)
    created = keeper.maintain(now)
    [sent] = [r.json() for r in graph.calls("POST", "/subscriptions")]
    assert sent["clientState"] == STATE and sent["changeType"] == "created,updated,deleted"
    assert sent["notificationUrl"] == sent["lifecycleNotificationUrl"] == "https://noshow.example.test/webhooks/outlook"
    assert created.created and created.expires <= now + timedelta(hours=10, seconds=1)
    [stored] = SqliteSubscriptionStore(LocalDb(tmp_path / "local.db")).all()  # survives a restart
    assert (stored.subscription_id, stored.status) == (created.created, "active")
    assert "clientState" not in json.dumps(stored.model_dump(mode="json"))  # the secret is not stored

    assert keeper.maintain(now + timedelta(hours=1)).renewed == []  # not due
    later = created.expires - timedelta(hours=1)
    renewed = keeper.maintain(later)
    assert renewed.renewed == [created.created] and renewed.created is None
    [patch] = graph.calls("PATCH", "/subscriptions/")
    assert patch.path.endswith(created.created)
    assert datetime.fromisoformat(patch.json()["expirationDateTime"].replace("Z", "+00:00")) > created.expires


def test_lifecycle_notifications_reauthorize_recreate_or_resync(graph: FakeGraph, tmp_path: Path) -> None:
    db = LocalDb(tmp_path / "local.db")
    keeper = _subscriptions(graph, db)
    now = datetime.now(UTC)
    sub_id = keeper.maintain(now).active
    inbound = OutlookInbound(STATE)
    store = SqliteSubscriptionStore(db)

    # reauthorizationRequired: flagged, and the next run PATCHes although the subscription is not due
    request = _lifecycle(sub_id, "reauthorizationRequired")
    inbound.check_signature(request, now)
    assert inbound.parse(request).sync_sources == []
    assert note_lifecycle(store, inbound.lifecycle(request)) is True
    assert store.get(sub_id).status == "reauthorize"  # type: ignore[union-attr]
    assert keeper.maintain(now).renewed == [sub_id]
    assert store.get(sub_id).status == "active"  # type: ignore[union-attr]

    # missed: notifications were lost, so the mailbox is reconciled; nothing to renew
    missed = _lifecycle(sub_id, "missed")
    assert inbound.parse(missed).sync_sources == ["outlook"]
    assert note_lifecycle(store, inbound.lifecycle(missed)) is False

    # subscriptionRemoved: Graph deleted it, so a new one is created (no PATCH or DELETE of the old one)
    graph.subscriptions.pop(sub_id)
    assert note_lifecycle(store, inbound.lifecycle(_lifecycle(sub_id, "subscriptionRemoved"))) is True
    patches = len(graph.calls("PATCH"))
    report = keeper.maintain(now)
    assert report.forgotten == [sub_id] and report.created and report.created != sub_id
    assert len(graph.calls("PATCH")) == patches and graph.calls("DELETE") == []
    assert [s.subscription_id for s in store.all()] == [report.created] == list(graph.subscriptions)
    # a lifecycle notification about a subscription we do not know changes nothing
    assert note_lifecycle(store, inbound.lifecycle(_lifecycle("someone-elses", "subscriptionRemoved"))) is False


def test_a_renewal_graph_answers_404_recreates_the_subscription(graph: FakeGraph, tmp_path: Path) -> None:
    keeper = _subscriptions(graph, LocalDb(tmp_path / "local.db"))
    first = keeper.maintain(datetime.now(UTC))
    graph.subscriptions.clear()  # expired at Graph while nothing renewed it
    report = keeper.maintain(first.expires - timedelta(hours=1))
    assert report.forgotten == [first.active] and report.created and list(graph.subscriptions) == [report.created]


def test_change_notifications_name_the_source_to_sync() -> None:
    inbound = OutlookInbound(["old-state", STATE])
    request = RawRequest(method="POST", url="https://example.com/webhooks/outlook", headers={},
                         body=fixture_bytes("outlook", "notification.json"))
    assert inbound.parse(request).sync_sources == ["outlook"]


# ------------------------------------------------------------------------------------------------ the Schedule


async def test_the_renewal_schedule_opens_channels_and_subscriptions(client: Client, task_queue: str, tmp_path: Path,
                                                                     google: FakeGoogleCalendar,
                                                                     graph: FakeGraph) -> None:
    rs = Settings(
        _env_file=None,  # type: ignore[call-arg]
        google=GoogleSettings(_env_file=None, access_token=SecretStr("ya29.t"), calendar_id=CAL,  # type: ignore[call-arg]
                              base_url=google.base_url + "/calendar/v3", channels=True),
        graph=GraphSettings(_env_file=None, access_token=SecretStr("graph-t"), user="ops@example.org",  # type: ignore[call-arg]
                            base_url=graph.base_url + "/v1.0", client_state=SecretStr(f"{STATE},older-state")),
        api=ApiSettings(_env_file=None, public_base_url="https://noshow.example.test/"),  # type: ignore[call-arg]
    )
    db = LocalDb(tmp_path / "local.db")
    acts = push_activities(rs, db)
    assert acts.providers == ["google", "outlook"]
    # nothing configured: no keepers, no schedule
    assert push_activities(Settings(_env_file=None), db).providers == []  # type: ignore[call-arg]
    assert await ensure_push_schedule(client, [], task_queue, timedelta(hours=1)) is None

    with ThreadPoolExecutor(4) as pool:
        async with Worker(client, task_queue=task_queue, workflows=[RenewPushChannelsWorkflow],
                          activities=[acts.renew_push_channels], activity_executor=pool):
            try:
                sid = await ensure_push_schedule(client, acts.providers, task_queue, timedelta(hours=1))
                assert sid == PUSH_SCHEDULE_ID
                handle = client.get_schedule_handle(sid)
                desc = await handle.describe()
                action = desc.schedule.action
                assert isinstance(action, ScheduleActionStartWorkflow)
                assert action.workflow == "RenewPushChannelsWorkflow" and action.task_queue == task_queue
                assert desc.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
                # ensure_push_schedule ran it once at once: both providers are live
                desc = await eventually(handle.describe, lambda d: len(d.info.recent_actions) >= 1)
                run_id = desc.info.recent_actions[0].action.workflow_id  # type: ignore[attr-defined]
                run = client.get_workflow_handle_for(RenewPushChannelsWorkflow.run, run_id)  # type: ignore[arg-type]
                result: RenewPushResult = await asyncio.wait_for(run.result(), timeout=30)
                assert result.failed == [] and [r.provider for r in result.reports] == ["google", "outlook"]
                assert len(google.channels) == 1 and len(graph.subscriptions) == 1
                [sub] = graph.subscriptions.values()
                assert sub["clientState"] == STATE and sub["resource"] == "users/ops@example.org/events"
                [watch] = google.calls("POST", "/events/watch")
                assert watch.json()["address"] == "https://noshow.example.test/webhooks/google"

                # one provider failing does not stop the other; the run fails afterwards, visibly
                graph.fail_next(403, {"error": {"code": "Forbidden", "message": "no"}}, times=1)
                graph.subscriptions.clear()
                SqliteSubscriptionStore(db).remove(sub["id"])  # nothing known: the run must create one
                with pytest.raises(WorkflowFailureError) as failure:
                    await client.execute_workflow(RenewPushChannelsWorkflow.run, RenewPushInput(),
                                                  id=f"renew-{uuid.uuid4().hex[:8]}", task_queue=task_queue)
                assert "outlook" in str(failure.value.cause)
                assert len(google.channels) == 1  # google ran (nothing due) before outlook failed
            finally:
                await client.get_schedule_handle(PUSH_SCHEDULE_ID).delete()


def test_push_activity_reports_per_provider(google: FakeGoogleCalendar, tmp_path: Path) -> None:
    acts = PushActivities(google=[_keeper(google, LocalDb(tmp_path / "local.db"))])
    assert acts.providers == ["google"]
    report = acts.renew_push_channels(PushInput(provider="google"))
    assert report.provider == "google" and len(report.google) == 1 and report.outlook == []
    assert "token" not in report.model_dump_json()
