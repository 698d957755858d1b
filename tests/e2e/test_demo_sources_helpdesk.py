"""`noshow demo --source zendesk|freshdesk` against the in-process API and worker with the help desk's fake as
the CRM: the demo creates the requester and its ticket, the signed (Zendesk) or header-authenticated
(Freshdesk) webhook starts the case, the stack reads the requester's phone from the desk, the case is recovered
on the local calendar and the outcome lands on the ticket as a private note and a ticket field."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.e2e.provider_helpers import provider_stack, writeback_policy
from tests.e2e.test_demo_sources import demo_lines_ok
from tests.fakes.freshdesk_fake import FakeFreshdesk
from tests.fakes.zendesk_fake import FakeZendesk
from tests.helpers import eventually
from workers.dev.demo import daytime_contact
from workers.dev.demo_sources import run_source_demo, source_refusal

ZD_SECRET, STATUS_FIELD, OUTCOME_FIELD = "zendesk-e2e-signing-secret", "360011", "360020"
FD_TOKEN = "freshdesk-e2e-rule-token"


def zendesk_env(fake: FakeZendesk) -> dict[str, str]:
    return {"NOSHOW_ZENDESK_WEBHOOK_SECRET": ZD_SECRET, "NOSHOW_ZENDESK_BASE_URL": fake.base_url,
            "NOSHOW_ZENDESK_EMAIL": "agent@clinic.example", "NOSHOW_ZENDESK_API_TOKEN": "zd-token",
            "NOSHOW_ZENDESK_STATUS_FIELD_ID": STATUS_FIELD,
            "NOSHOW_ZENDESK_FIELDS": json.dumps({"outcome": OUTCOME_FIELD}), "NOSHOW_CRM_PROVIDER": "zendesk"}


def freshdesk_env(fake: FakeFreshdesk) -> dict[str, str]:
    return {"NOSHOW_FRESHDESK_WEBHOOK_TOKEN": FD_TOKEN, "NOSHOW_FRESHDESK_BASE_URL": fake.base_url,
            "NOSHOW_FRESHDESK_API_KEY": "fd-key", "NOSHOW_FRESHDESK_FIELDS": json.dumps({"outcome": "cf_outcome"}),
            "NOSHOW_CRM_PROVIDER": "freshdesk"}


async def test_the_zendesk_demo_recovers_a_ticket_marked_missed_and_notes_the_outcome_privately(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    lines: list[str] = []
    with FakeZendesk() as zendesk:
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, zendesk_env(zendesk),
                                  writeback_policy(zone)) as stack:
            ok = await run_source_demo(stack.deps.settings, "zendesk", lines.append, timeout=30, http=stack.http)
            demo_lines_ok(ok, lines)
            [user] = [u for u in zendesk.users.values() if u["role"] == "end-user"]
            [ticket] = [t for t in zendesk.tickets.values() if t["requester_id"] == user["id"]]
            assert zendesk.calls("GET", f"/api/v2/users/{user['id']}.json")  # the phone came from Zendesk
            await eventually(lambda: asyncio.sleep(0, zendesk.field(ticket["id"], int(OUTCOME_FIELD))),
                             lambda v: v == "no_show", timeout=20)
            await eventually(lambda: asyncio.sleep(0, [c for c in zendesk.comments[ticket["id"]]
                                                       if c["public"] is False]), lambda c: len(c) >= 1, timeout=20)


async def test_the_freshdesk_demo_recovers_a_canceled_appointment_ticket_and_notes_it_privately(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    lines: list[str] = []
    with FakeFreshdesk() as freshdesk:
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, freshdesk_env(freshdesk),
                                  writeback_policy(zone)) as stack:
            ok = await run_source_demo(stack.deps.settings, "freshdesk", lines.append, timeout=30, http=stack.http)
            demo_lines_ok(ok, lines)
            [contact] = freshdesk.contacts.values()
            [ticket] = [t for t in freshdesk.tickets.values() if t["requester_id"] == contact["id"]]
            assert ticket["custom_fields"]["cf_reason"] == "Canceled appointment"
            assert freshdesk.calls("GET", f"/api/v2/contacts/{contact['id']}")
            await eventually(lambda: asyncio.sleep(0, freshdesk.conversations[ticket["id"]]),
                             lambda notes: len(notes) >= 1 and all(n["private"] for n in notes), timeout=20)
            # the demo's appointment began ten minutes before the cancellation: a late one
            await eventually(lambda: asyncio.sleep(0, ticket["custom_fields"].get("cf_outcome")),
                             lambda v: v == "late_cancel", timeout=20)


def test_the_help_desk_demos_ask_before_writing_to_a_real_account_and_name_what_they_miss(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.helpers import settings_from

    monkeypatch.chdir(tmp_path)
    fresh = {"settings_file": str(tmp_path / uuid.uuid4().hex)}
    assert "NOSHOW_ZENDESK_WEBHOOK_SECRET" in (source_refusal(settings_from(fresh), "zendesk") or "")
    only_hook = settings_from({**fresh, "zendesk_webhook_secret": ZD_SECRET})
    assert "NOSHOW_ZENDESK_API_TOKEN" in (source_refusal(only_hook, "zendesk") or "")
    real = settings_from({**fresh, "zendesk_webhook_secret": ZD_SECRET, "zendesk_subdomain": "clinic",
                          "zendesk_email": "agent@clinic.example", "zendesk_api_token": "t"})
    refusal = source_refusal(real, "zendesk") or ""
    assert "--yes-create" in refusal and "clinic.zendesk.com" in refusal and "\n" not in refusal
    desk = settings_from({**fresh, "freshdesk_webhook_token": FD_TOKEN, "freshdesk_domain": "clinic",
                          "freshdesk_api_key": "k"})
    assert "clinic.freshdesk.com" in (source_refusal(desk, "freshdesk") or "")
    assert source_refusal(desk, "freshdesk", yes_create=True) is None
