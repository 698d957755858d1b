"""`noshow demo --source fhir` against the in-process API and worker with the fake FHIR server: the demo writes a
Patient and an Appointment marked `noshow` through the engine's FHIR client, one run of the `fhir` reconcile
Schedule finds it, and the case is recovered on the local calendar; the demo refuses a FHIR server that is not on
this machine unless told to."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.e2e.provider_helpers import provider_stack, writeback_policy
from tests.fakes.fhir_fake import FakeFhir
from tests.helpers import settings_from
from workers.dev.demo import daytime_contact
from workers.dev.demo_polled import polled_refusal, run_polled_demo

DEMO_SCOPES = "system/Appointment.rs system/Appointment.cu system/Patient.cr system/Slot.rs"


async def test_the_fhir_demo_finds_a_noshow_appointment_by_polling_and_recovers_it(
        client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, zone = daytime_contact()
    lines: list[str] = []
    with FakeFhir() as fhir:
        env = {"NOSHOW_FHIR_BASE_URL": fhir.base_url,
               "NOSHOW_FHIR_ACCESS_TOKEN": fhir.static_token("demo-token", DEMO_SCOPES)}
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
            ok = await run_polled_demo(stack.deps.settings, "fhir", lines.append, timeout=30, http=stack.http,
                                       temporal=stack.client)
        assert ok, lines
        [appointment] = fhir.appointments.values()
        assert appointment["status"] == "noshow"
        assert lines[2].endswith("appointment.no_show"), lines
        assert [line.split()[0] for line in lines[3:]] == ["recovering", "offering", "confirmed"], lines
        polls = fhir.calls("GET", "/Appointment")
        assert len(polls) >= 2 and all(p.params("_lastUpdated")[0].startswith("gt") for p in polls)
        assert len(fhir.calls("PATCH")) == 1


def test_a_remote_fhir_server_needs_yes_create(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    real = settings_from({"settings_file": str(tmp_path / uuid.uuid4().hex),
                          "NOSHOW_FHIR_BASE_URL": "https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4",
                          "NOSHOW_FHIR_ACCESS_TOKEN": "t"})
    refusal = polled_refusal(real, "fhir") or ""
    assert "--yes-create" in refusal and "fhir.epic.com" in refusal and "\n" not in refusal
    assert polled_refusal(real, "fhir", yes_create=True) is None
