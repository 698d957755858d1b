"""`noshow demo --source NAME` against the in-process API and worker, with the provider's fake as the calendar and
the CRM where it holds them: the demo's signed webhooks start the case, the offer comes from the fake's slots and
the booking lands there, the outcome reaches the fake CRM. And the demo refuses, in one line, a source the stack
has no webhook for, lacks what the demo needs, or that is not in the registry."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from temporalio.client import Client

from connectors.inbound import opt_dt
from tests.e2e.provider_helpers import (
    CALENDLY_EVENT_TYPE,
    calcom_api_env,
    calendly_api_env,
    future_hours,
    hubspot_api_env,
    inbound_env,
    provider_stack,
    writeback_policy,
)
from tests.fakes.gohighlevel_fake import FakeGoHighLevel
from tests.fakes.pipedrive_fake import FakePipedrive
from tests.fakes.providers import FakeCalcom, FakeCalendly, FakeHubSpot
from tests.helpers import eventually
from workers.dev.demo import DemoRefused, daytime_contact
from workers.dev.demo_sources import SOURCES, run_source_demo, source_refusal

# every webhook-driven demo source, one a line
ALL_DEMO_SOURCES = [
    "activecampaign",
    "acuity",
    "calcom",
    "calendly",
    "events",
    "freshdesk",
    "gohighlevel",
    "hubspot",
    "mindbody",
    "pipedrive",
    "square",
    "zendesk",
    "zoom",
]


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
    for name, variable in {"pipedrive": "NOSHOW_PIPEDRIVE_WEBHOOK_PASSWORD", "hubspot": "NOSHOW_HUBSPOT_CLIENT_SECRET",
                           "gohighlevel": "NOSHOW_GOHIGHLEVEL_WEBHOOK_PUBLIC_KEY",
                           "calendly": "NOSHOW_CALENDLY_SIGNING_KEY", "zoom": "NOSHOW_ZOOM_SECRET_TOKEN"}.items():
        refusal = source_refusal(bare, name) or ""
        assert variable in refusal and "\n" not in refusal, (name, refusal)
    assert "calcom" in (source_refusal(bare, "pigeon") or "") and "\n" not in (source_refusal(bare, "pigeon") or "")
    with pytest.raises(DemoRefused):
        asyncio.run(run_source_demo(bare, "activecampaign", print, timeout=1))
    assert sorted(SOURCES) == ALL_DEMO_SOURCES


async def test_the_activecampaign_demo_recovers_a_deal_moved_to_missed_on_the_local_calendar(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    lines: list[str] = []
    env = {"NOSHOW_ACTIVECAMPAIGN_WEBHOOK_TOKEN": "demo-activecampaign-url-token-01"}
    async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
        ok = await run_source_demo(stack.deps.settings, "activecampaign", lines.append, timeout=30, http=stack.http)
    assert ok, lines


# ---------------------------------------------------------------------------- the webhook-driven sources

PD_USER, PD_PASSWORD, PD_NO_SHOW = "noshow-hooks", "pipedrive-e2e-basic-password", "3"
PD_OUTCOME_KEY = "5f3e1c0a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f"
GHL_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(7, 39)))
GHL_PUBLIC_PEM = GHL_KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
GHL_PRIVATE_PEM = GHL_KEY.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
GHL_CALENDAR = "BqTwX8QFwXzpegMve9EQ"


def pipedrive_env(fake: FakePipedrive) -> dict[str, str]:
    return {"NOSHOW_PIPEDRIVE_API_TOKEN": "pd-api-token", "NOSHOW_PIPEDRIVE_API_DOMAIN": fake.base_url,
            "NOSHOW_PIPEDRIVE_WEBHOOK_USER": PD_USER, "NOSHOW_PIPEDRIVE_WEBHOOK_PASSWORD": PD_PASSWORD,
            "NOSHOW_PIPEDRIVE_NO_SHOW_OUTCOMES": f'["{PD_NO_SHOW}"]',
            "NOSHOW_PIPEDRIVE_FIELDS": json.dumps({"outcome": PD_OUTCOME_KEY})}


def gohighlevel_env(fake: FakeGoHighLevel, signing_key: str | None = GHL_PRIVATE_PEM) -> dict[str, str]:
    env = {"NOSHOW_GOHIGHLEVEL_WEBHOOK_PUBLIC_KEY": GHL_PUBLIC_PEM, "NOSHOW_GOHIGHLEVEL_ACCESS_TOKEN": fake.token,
           "NOSHOW_GOHIGHLEVEL_LOCATION_ID": fake.location_id, "NOSHOW_GOHIGHLEVEL_BASE_URL": fake.base_url,
           "NOSHOW_GOHIGHLEVEL_CALENDAR_ID": GHL_CALENDAR}
    return {**env, "NOSHOW_GOHIGHLEVEL_DEMO_SIGNING_KEY": signing_key} if signing_key else env


def demo_lines_ok(ok: bool, lines: list[str]) -> None:
    assert ok, lines
    assert [line.split()[0] for line in lines if line.strip().split()[0] not in SOURCES] == [
        "recovering", "offering", "confirmed"], lines


async def test_the_pipedrive_demo_recovers_a_meeting_marked_no_show_and_writes_the_outcome_to_pipedrive(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    lines: list[str] = []
    with FakePipedrive() as pipedrive:
        env = {**pipedrive_env(pipedrive), "NOSHOW_CRM_PROVIDER": "pipedrive"}
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
            ok = await run_source_demo(stack.deps.settings, "pipedrive", lines.append, timeout=30, http=stack.http)
            demo_lines_ok(ok, lines)
            [person] = pipedrive.persons.values()
            # the webhook named only the person's id: the stack read the phone and email from Pipedrive
            assert pipedrive.calls("GET", f"/api/v2/persons/{person['id']}")
            [missed] = [a for a in pipedrive.activities.values() if a["person_id"] == person["id"]][:1]
            assert missed["type"] == "meeting"
            await eventually(lambda: asyncio.sleep(0, person.get("custom_fields", {})),
                             lambda f: f.get(PD_OUTCOME_KEY) == "no_show", timeout=20)
            await eventually(lambda: asyncio.sleep(0, [n for n in pipedrive.notes.values()
                                                       if n.get("person_id") == person["id"]]),
                             lambda n: len(n) >= 1, timeout=20)


async def test_the_gohighlevel_demo_books_on_the_gohighlevel_calendar_and_notes_the_contact(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    free = future_hours(8)
    lines: list[str] = []
    with FakeGoHighLevel() as ghl:
        ghl.open_slots[GHL_CALENDAR] = list(free)
        env = {**gohighlevel_env(ghl), "NOSHOW_CALENDAR_PROVIDER": "gohighlevel", "NOSHOW_CRM_PROVIDER": "gohighlevel"}
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
            ok = await run_source_demo(stack.deps.settings, "gohighlevel", lines.append, timeout=30, http=stack.http)
            demo_lines_ok(ok, lines)
            [contact_id] = ghl.contacts
            assert ghl.calls("GET", f"/contacts/{contact_id}")
            [booking] = ghl.appointments.values()
            assert booking["calendarId"] == GHL_CALENDAR and booking["contactId"] == contact_id
            assert opt_dt(booking["startTime"]) in free
            await eventually(lambda: asyncio.sleep(0, [n for n in ghl.notes.values()]), lambda n: len(n) >= 1,
                             timeout=20)


def test_the_gohighlevel_demo_refuses_without_the_private_half_or_with_another_key(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.helpers import settings_from

    monkeypatch.chdir(tmp_path)
    base = {"settings_file": str(tmp_path / uuid.uuid4().hex), "gohighlevel_webhook_public_key": GHL_PUBLIC_PEM,
            "gohighlevel_access_token": "pit-token", "gohighlevel_location_id": "loc"}
    without = source_refusal(settings_from(base), "gohighlevel") or ""
    assert "NOSHOW_GOHIGHLEVEL_DEMO_SIGNING_KEY" in without and "\n" not in without
    other = Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    mismatch = source_refusal(settings_from({**base, "gohighlevel_demo_signing_key": other}), "gohighlevel") or ""
    assert "not the private half" in mismatch
    signed = settings_from({**base, "gohighlevel_demo_signing_key": GHL_PRIVATE_PEM})
    assert source_refusal(signed, "gohighlevel", yes_create=True) is None
    # the default base URL is GoHighLevel's own: the demo's contact would be a real one
    remote = source_refusal(signed, "gohighlevel") or ""
    assert "--yes-create" in remote and "services.leadconnectorhq.com" in remote and "\n" not in remote
    local = settings_from({**base, "gohighlevel_demo_signing_key": GHL_PRIVATE_PEM,
                           "gohighlevel_base_url": "http://127.0.0.1:9"})
    assert source_refusal(local, "gohighlevel") is None


def test_demos_that_create_records_ask_before_writing_to_a_real_account(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.helpers import settings_from

    monkeypatch.chdir(tmp_path)
    pipedrive = {"settings_file": str(tmp_path / uuid.uuid4().hex), "pipedrive_api_token": "pd-api-token",
                 "pipedrive_webhook_user": PD_USER, "pipedrive_webhook_password": PD_PASSWORD,
                 "pipedrive_no_show_outcomes": f'["{PD_NO_SHOW}"]'}
    refusal = source_refusal(settings_from(pipedrive), "pipedrive") or ""
    assert "--yes-create" in refusal and "api.pipedrive.com" in refusal and "person" in refusal
    assert source_refusal(settings_from(pipedrive), "pipedrive", yes_create=True) is None
    hubspot = {"settings_file": str(tmp_path / uuid.uuid4().hex), "hubspot_client_secret": "s" * 32,
               "hubspot_access_token": "pat-na1-token"}
    assert "api.hubapi.com" in (source_refusal(settings_from(hubspot), "hubspot") or "")
    # a source that creates nothing on the provider never asks
    assert source_refusal(settings_from({"settings_file": str(tmp_path / uuid.uuid4().hex),
                                         "calcom_webhook_secret": "c" * 24}), "calcom") is None


async def test_the_hubspot_demo_recovers_a_meeting_outcome_and_writes_back_to_hubspot(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    lines: list[str] = []
    with FakeHubSpot() as hubspot:
        env = {**hubspot_api_env(hubspot.base_url), "NOSHOW_CRM_PROVIDER": "hubspot"}
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
            ok = await run_source_demo(stack.deps.settings, "hubspot", lines.append, timeout=30, http=stack.http)
            demo_lines_ok(ok, lines)
            [(contact_id, _)] = hubspot.objects["contacts"].items()
            missed_id = next(iter(hubspot.objects["meetings"]))
            # the webhook named only the meeting: its times and contact came from HubSpot
            assert hubspot.calls("GET", f"/crm/v3/objects/meetings/{missed_id}")
            booked = await eventually(
                lambda: asyncio.sleep(0, {k: v for k, v in hubspot.objects["meetings"].items() if k != missed_id}),
                lambda m: len(m) >= 1, timeout=20)
            [meeting] = booked.values()
            assert meeting["properties"]["hs_meeting_outcome"] == "SCHEDULED"
            assert meeting["links"] == {"contacts": [contact_id]}
            patched = await eventually(lambda: asyncio.sleep(0, hubspot.patched("contacts")), lambda p: len(p) >= 1,
                                       timeout=20)
            assert "noshow_missed_date" in patched[0]


async def test_the_calendly_demo_books_the_rebooking_on_the_calendly_fake(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    free = future_hours(8)
    lines: list[str] = []
    with FakeCalendly() as calendly:
        calendly.available = list(free)
        env = {**inbound_env(), **calendly_api_env(calendly.base_url), "NOSHOW_CALENDAR_PROVIDER": "calendly",
               "NOSHOW_CALENDLY_EVENT_TYPE": CALENDLY_EVENT_TYPE}
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
            ok = await run_source_demo(stack.deps.settings, "calendly", lines.append, timeout=30, http=stack.http)
        demo_lines_ok(ok, lines)
        assert calendly.calls("GET", "/event_type_available_times")
        [book] = calendly.calls("POST", "/invitees")
        assert book.json()["event_type"] == CALENDLY_EVENT_TYPE
        assert len(calendly.booked) == 1


async def test_the_events_demo_recovers_a_standard_webhooks_no_show_on_the_local_calendar(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    lines: list[str] = []
    async with provider_stack(client, task_queue, tmp_path, monkeypatch, {}, writeback_policy(zone)) as stack:
        ok = await run_source_demo(stack.deps.settings, "events", lines.append, timeout=30, http=stack.http)
        demo_lines_ok(ok, lines)
        case_id = lines[1].split()[-1]
        final = await stack.state(case_id)
        row = stack.deps.calendar.appointment(str(final.new_appointment_id))
        assert row is not None and row["case_id"] == case_id


def test_the_events_demo_refuses_when_the_stack_holds_only_a_public_key(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.helpers import settings_from

    monkeypatch.chdir(tmp_path)
    public_only = settings_from({"settings_file": str(tmp_path / uuid.uuid4().hex),
                                 "webhook_secret": "whpk_" + "A" * 43 + "="})
    refusal = source_refusal(public_only, "events") or ""
    assert "whsec_" in refusal and "\n" not in refusal


def test_the_cli_help_and_the_connectors_guide_name_every_demo_source() -> None:
    from typer.testing import CliRunner

    from workers.cli.main import app

    result = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "400", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    help_text = " ".join(result.output.split())
    guide = (Path(__file__).parents[2] / "docs" / "connectors.md").read_text()
    # the demo section: from the command to the table of systems
    section = guide[guide.index("noshow demo --source NAME"):guide.index("## Every system at a glance")]
    paragraph = " ".join(section.split())
    for name in SOURCES:
        assert name in help_text, name
        assert f"`{name}`" in paragraph, name


async def test_a_provider_refusing_the_demo_contact_is_one_line_and_starts_nothing(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    with FakePipedrive(api_token="another-token") as pipedrive:
        env = {**pipedrive_env(pipedrive), "NOSHOW_CRM_PROVIDER": "pipedrive"}
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
            with pytest.raises(ConnectionError) as refused:
                await run_source_demo(stack.deps.settings, "pipedrive", print, timeout=5, http=stack.http)
            assert str(refused.value).startswith("pipedrive refused") and "\n" not in str(refused.value)
            assert pipedrive.persons == {} and await stack.workflow_count() == 0


async def test_the_zoom_demo_turns_a_meeting_the_customer_never_joined_into_a_recovered_no_show(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    lines: list[str] = []
    env = {**inbound_env(), "NOSHOW_ZOOM_SECRET_TOKEN": "zoom-demo-secret-token"}
    async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
        ok = await run_source_demo(stack.deps.settings, "zoom", lines.append, timeout=30, http=stack.http)
        demo_lines_ok(ok, lines)
        case_id = lines[-4].split()[-1]
        final = await stack.state(case_id)
        # the no-show came from Zoom's evidence, not from a scheduler's mark
        assert final.verdict == "no_show"
        assert any("the guest never joined the meeting" in r for r in final.verdict_reasons), final.verdict_reasons
        assert await stack.workflow_count() == 1


def test_the_zoom_demo_needs_the_cal_com_webhook_that_books_the_meeting(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.helpers import settings_from

    monkeypatch.chdir(tmp_path)
    only_zoom = settings_from({"settings_file": str(tmp_path / uuid.uuid4().hex), "zoom_secret_token": "z" * 24})
    refusal = source_refusal(only_zoom, "zoom") or ""
    assert "NOSHOW_CALCOM_WEBHOOK_SECRET" in refusal and "\n" not in refusal
