"""`noshow demo --source mindbody` against the in-process API and worker with the Mindbody fake as the site and the
calendar: the demo creates its client through the API, its signed deliveries start the case (the client's phone
read back from the API), the offer comes from the fake's bookable items and the booking lands there. The route
answers Mindbody's HEAD check, and the demo refuses without the API credentials it needs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.connectors.cases_mindbody import KEY
from tests.e2e.provider_helpers import provider_stack, writeback_policy
from tests.fakes.mindbody_fake import FakeMindbody
from workers.dev.demo import daytime_contact
from workers.dev.demo_sources import SOURCES, run_source_demo, source_refusal


def mindbody_env(fake: FakeMindbody) -> dict[str, str]:
    return {"NOSHOW_MINDBODY_SIGNATURE_KEY": KEY, "NOSHOW_MINDBODY_API_KEY": fake.api_key,
            "NOSHOW_MINDBODY_SITE_ID": fake.site_id, "NOSHOW_MINDBODY_USERNAME": fake.username,
            "NOSHOW_MINDBODY_PASSWORD": fake.password, "NOSHOW_MINDBODY_BASE_URL": f"{fake.base_url}/public/v6",
            "NOSHOW_CALENDAR_PROVIDER": "mindbody"}


async def test_the_mindbody_demo_books_the_missed_client_on_a_bookable_item(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    top = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    lines: list[str] = []
    with FakeMindbody() as fake:
        fake.open_window(top + timedelta(hours=3), top + timedelta(hours=9), staff=7)
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, mindbody_env(fake),
                                  writeback_policy(zone)) as stack:
            head = await stack.http.head("/webhooks/mindbody")
            assert head.status_code == 200
            ok = await run_source_demo(stack.deps.settings, "mindbody", lines.append, timeout=30, http=stack.http)
        assert ok, lines
        assert [line.split()[0] for line in lines if line.split()[0] not in SOURCES] == [
            "recovering", "offering", "confirmed"], lines
        [client_id] = fake.clients
        assert fake.calls("POST", "/client/addclient")
        assert any(("request.clientIDs", client_id) in r.query_pairs for r in fake.calls("GET", "/client/clients"))
        [booking] = fake.appointments.values()
        assert booking["ClientId"] == client_id and booking["StaffId"] == 7 and booking["SessionTypeId"] == 12
        start = datetime.fromisoformat(booking["StartDateTime"]).replace(tzinfo=UTC)
        assert top + timedelta(hours=3) <= start <= top + timedelta(hours=8)
        assert fake.calls("GET", "/appointment/bookableitems")


def test_the_mindbody_demo_needs_the_api_to_create_its_client(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    from tests.helpers import settings_from

    monkeypatch.chdir(tmp_path)
    bare = settings_from({"settings_file": str(tmp_path / uuid.uuid4().hex)})
    assert "NOSHOW_MINDBODY_SIGNATURE_KEY" in (source_refusal(bare, "mindbody") or "")
    signed = settings_from({"settings_file": str(tmp_path / uuid.uuid4().hex), "mindbody_signature_key": KEY})
    refusal = source_refusal(signed, "mindbody") or ""
    assert "NOSHOW_MINDBODY_API_KEY" in refusal and "\n" not in refusal
    remote = settings_from({"settings_file": str(tmp_path / uuid.uuid4().hex), "mindbody_signature_key": KEY,
                            "mindbody_api_key": "k", "mindbody_site_id": "-99", "mindbody_username": "u",
                            "mindbody_password": "p"})
    assert "--yes-create" in (source_refusal(remote, "mindbody") or "")
