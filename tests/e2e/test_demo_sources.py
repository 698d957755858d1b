"""`noshow demo --source calcom` against the in-process API and worker, with Cal.com's fake as the calendar: the
demo's signed Cal.com webhooks start the case, the offer comes from the fake's slots, the booking lands there.
And the demo refuses, in one line, a source the stack has no webhook for or that is not in the registry."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.e2e.provider_helpers import (
    calcom_api_env,
    future_hours,
    inbound_env,
    provider_stack,
    writeback_policy,
)
from tests.fakes.providers import FakeCalcom
from workers.dev.demo import DemoRefused, daytime_contact
from workers.dev.demo_sources import SOURCES, run_source_demo, source_refusal


async def test_the_calcom_demo_recovers_a_missed_booking_on_the_calcom_fake(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    free = future_hours(8)
    lines: list[str] = []
    with FakeCalcom() as calcom:
        calcom.free = list(free)
        env = {**inbound_env(), **calcom_api_env(calcom.base_url), "NOSHOW_CALENDAR_PROVIDER": "calcom"}
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
            ok = await run_source_demo(stack.deps.settings, "calcom", lines.append, timeout=30, http=stack.http)
        assert ok, lines
        assert [line.split()[0] for line in lines[2:]] == ["recovering", "offering", "confirmed"], lines
        [create] = [r for r in calcom.calls("POST") if r.path == "/v2/bookings"]
        assert create.json()["eventTypeId"] == 7
        assert create.json()["start"].replace("Z", "+00:00") in {f.isoformat() for f in free}
        assert calcom.calls("GET", "/v2/slots")
        assert len(calcom.bookings) == 1


def test_a_source_without_its_webhook_secret_or_unknown_is_refused_in_one_line(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.helpers import settings_from

    monkeypatch.chdir(tmp_path)
    bare = settings_from({"settings_file": str(tmp_path / uuid.uuid4().hex)})
    assert "NOSHOW_CALCOM_WEBHOOK_SECRET" in (source_refusal(bare, "calcom") or "")
    assert "calcom" in (source_refusal(bare, "pigeon") or "") and "\n" not in (source_refusal(bare, "pigeon") or "")
    with pytest.raises(DemoRefused):
        asyncio.run(run_source_demo(bare, "activecampaign", print, timeout=1))
    assert sorted(SOURCES) == ["activecampaign", "calcom"]


async def test_the_activecampaign_demo_recovers_a_deal_moved_to_missed_on_the_local_calendar(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    lines: list[str] = []
    env = {"NOSHOW_ACTIVECAMPAIGN_WEBHOOK_TOKEN": "demo-activecampaign-url-token-01"}
    async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
        ok = await run_source_demo(stack.deps.settings, "activecampaign", lines.append, timeout=30, http=stack.http)
    assert ok, lines
