"""A FHIR Subscription notification at /webhooks/fhir, in the `id-only` form the R4 backport sends, runs the
`fhir` reconcile at once: the appointment it names is read by the poll and its case starts, with no wait for the
Schedule. A notification without the Subscription's bearer token is refused before anything runs."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from domain.ids import case_id_for
from tests.e2e.provider_helpers import provider_stack, writeback_policy
from tests.fakes.fhir_fake import FakeFhir
from workers.dev.demo import daytime_contact
from workers.dev.demo_polled import reconcile_now

FIXTURE = Path(__file__).parents[1] / "connectors" / "fixtures" / "fhir" / "notification_id_only.json"


async def test_an_id_only_notification_reconciles_fhir_now(client: Client, task_queue: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    phone, zone = daytime_contact()
    with FakeFhir() as fhir:
        env = {"NOSHOW_FHIR_BASE_URL": fhir.base_url, "NOSHOW_FHIR_ACCESS_TOKEN": fhir.static_token(),
               "NOSHOW_FHIR_SUBSCRIPTION_TOKEN": "sub-token-e2e"}
        async with provider_stack(client, task_queue, tmp_path, monkeypatch, env, writeback_policy(zone)) as stack:
            await reconcile_now(stack.client, "fhir", 30)  # the baseline run, which starts nothing for the past
            patient = fhir.add_patient(phone=phone)
            appointment = fhir.add_appointment(patient, datetime.now(UTC) - timedelta(minutes=20), status="noshow")
            body = json.loads(FIXTURE.read_text())
            focus = body["entry"][0]["resource"]["parameter"][5]["part"][2]["valueReference"]
            focus["reference"] = f"{fhir.base_url}/Appointment/{appointment}"
            raw = json.dumps(body).encode()
            refused = await stack.http.post("/webhooks/fhir", content=raw,
                                            headers={"content-type": "application/fhir+json"})
            assert refused.status_code == 401, refused.text
            polls = len(fhir.calls("GET", "/Appointment"))
            accepted = await stack.http.post("/webhooks/fhir", content=raw, headers={
                "content-type": "application/fhir+json", "authorization": "Bearer sub-token-e2e",
                "x-request-id": uuid.uuid4().hex})
            assert accepted.status_code == 200, accepted.text
            case_id = case_id_for("fhir", appointment, stack.deps.settings.auth.id_salt)
            started = False
            for _ in range(150):
                try:
                    await stack.client.get_workflow_handle(case_id).describe()
                    started = True
                    break
                except RPCError:
                    await asyncio.sleep(0.2)
            assert started, "no case started from the notification"
            assert len(fhir.calls("GET", "/Appointment")) > polls  # the notification ran the poll
