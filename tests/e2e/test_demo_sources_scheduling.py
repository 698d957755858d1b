"""`noshow demo --source acuity` and `--source square` against the in-process API and worker, with the provider's
fake as the calendar: the demo records its appointment (Acuity) or customer (Square) on the fake, its signed
webhook starts the case, the stack reads the details the webhook does not carry back from the fake, the offer
comes from the fake's free times and the rebooking lands there. And each refuses, in one line, what it lacks."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from connectors.inbound import opt_dt
from tests.e2e.provider_helpers import future_hours, provider_stack, writeback_policy
from tests.e2e.test_demo_sources import demo_lines_ok
from tests.fakes.acuity_fake import FakeAcuity
from tests.fakes.square_fake import LOCATION, SERVICE, FakeSquare
from workers.dev.demo import daytime_contact
from workers.dev.demo_sources import run_source_demo, source_refusal

ACUITY_USER, ACUITY_KEY = "11145481", "acuity-e2e-api-key"
SQUARE_TOKEN, SQUARE_KEY = "EAAAl-e2e-token", "square-e2e-signature-key"


async def test_the_acuity_demo_reads_the_pinged_appointment_and_rebooks_on_acuity(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    free = future_hours(8)
    lines: list[str] = []
    with FakeAcuity(ACUITY_USER, ACUITY_KEY) as acuity:
        acuity.open_times["1"] = list(free)
        env = {"NOSHOW_ACUITY_USER_ID": ACUITY_USER, "NOSHOW_ACUITY_API_KEY": ACUITY_KEY,
               "NOSHOW_ACUITY_BASE_URL": acuity.base_url, "NOSHOW_ACUITY_APPOINTMENT_TYPE_ID": "1",
               "NOSHOW_CALENDAR_PROVIDER": "acuity"}
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
            ok = await run_source_demo(stack.deps.settings, "acuity", lines.append, timeout=30, http=stack.http)
            demo_lines_ok(ok, lines)
        missed, rebooked = sorted(acuity.appointments.values(), key=lambda a: a["id"])
        assert missed["canceled"] is True and missed["noShow"] is True
        # the ping named only the appointment: the stack read it back for its times and client
        assert acuity.calls("GET", f"/appointments/{missed['id']}")
        assert rebooked["email"] == missed["email"] and rebooked["canceled"] is False
        assert opt_dt(rebooked["datetime"]) in free and acuity.calls("GET", "/availability/times")


async def test_the_square_demo_reads_the_customer_and_rebooks_on_square(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    free = future_hours(8)
    lines: list[str] = []
    with FakeSquare(SQUARE_TOKEN) as square:
        square.open_times = list(free)
        env = {"NOSHOW_SQUARE_ACCESS_TOKEN": SQUARE_TOKEN, "NOSHOW_SQUARE_BASE_URL": square.base_url,
               "NOSHOW_SQUARE_SIGNATURE_KEY": SQUARE_KEY, "NOSHOW_SQUARE_LOCATION_ID": LOCATION,
               "NOSHOW_SQUARE_SERVICE_VARIATION_ID": SERVICE, "NOSHOW_CALENDAR_PROVIDER": "square"}
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
            ok = await run_source_demo(stack.deps.settings, "square", lines.append, timeout=30, http=stack.http)
            demo_lines_ok(ok, lines)
        [customer_id] = square.customers
        assert square.calls("GET", f"/v2/customers/{customer_id}")
        [booking] = square.bookings.values()
        assert booking["customer_id"] == customer_id and opt_dt(booking["start_at"]) in free
        [create] = [c for c in square.calls("POST") if c.path == "/v2/bookings"]
        assert create.json()["idempotency_key"]


def test_each_demo_names_what_it_lacks_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.helpers import settings_from

    monkeypatch.chdir(tmp_path)
    fresh = {"settings_file": str(tmp_path / uuid.uuid4().hex)}
    assert "NOSHOW_ACUITY_API_KEY" in (source_refusal(settings_from(fresh), "acuity") or "")
    key_only = source_refusal(settings_from({**fresh, "acuity_api_key": ACUITY_KEY}), "acuity") or ""
    assert "NOSHOW_ACUITY_USER_ID" in key_only and "\n" not in key_only
    assert "NOSHOW_SQUARE_SIGNATURE_KEY" in (source_refusal(settings_from(fresh), "square") or "")
    no_token = source_refusal(settings_from({**fresh, "square_signature_key": SQUARE_KEY}), "square") or ""
    assert "NOSHOW_SQUARE_ACCESS_TOKEN" in no_token
    real = source_refusal(settings_from({**fresh, "acuity_user_id": ACUITY_USER, "acuity_api_key": ACUITY_KEY}),
                          "acuity") or ""
    assert "--yes-create" in real and "acuityscheduling.com" in real
