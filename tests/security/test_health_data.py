"""Health data stays minimal: an EHR appointment's reason, service type and description never reach workflow
history, search attributes, messages or the ledger; payloads of programs watching a health source are encrypted
without a configured key; and such programs may only use a local reply model."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from activities.reconcile import diff
from connectors.fhir.client import FhirClient
from connectors.fhir.source import FhirSource
from policies.health import HEALTH_SOURCES, is_local_url, minimal_type, reply_model_problem, watched_health_sources
from policies.loader import load_policy
from tests.api.conftest import Api, api  # noqa: F401 (fixture)
from tests.fakes.fhir_fake import FakeFhir
from tests.security.sweep import sqlite_tables
from workers.health_data import KEY_FILE, health_problems, payload_key
from workers.settings import Settings
from workers.temporal.client import data_converter

CLINICAL = ("Major depressive disorder", "Psychiatry follow-up", "Sertraline review", "35489007")
DIAGNOSIS = {"reasonCode": [{"coding": [{"system": "http://snomed.info/sct", "code": "35489007"}],
                             "text": "Major depressive disorder"}],
             "serviceType": [{"text": "Psychiatry follow-up"}], "description": "Sertraline review",
             "appointmentType": {"text": "Psychiatry follow-up"}}


def test_the_health_sources_and_generic_types() -> None:
    assert frozenset({"fhir", "jane", "dentrix"}) == HEALTH_SOURCES
    assert minimal_type("fhir", "Psychiatry follow-up") == "appointment"
    assert minimal_type("fhir", "visit") == "visit"
    assert minimal_type("calcom", "Consultation") == "Consultation"


def test_a_remote_reply_model_is_refused_for_programs_watching_a_health_source() -> None:
    policy = load_policy()
    assert watched_health_sources(policy, connected=()) == {}  # `*` programs watch FHIR only once it is connected
    assert set(watched_health_sources(policy, connected={"fhir"})) >= {"default"}
    problem = reply_model_problem("https://api.openai.example/v1", policy, {"fhir"})
    assert problem is not None and "health source" in problem and "default" in problem
    assert reply_model_problem("http://127.0.0.1:11434/v1", policy, {"fhir"}) is None
    assert reply_model_problem("http://10.0.0.7:8080/v1", policy, {"fhir"}) is None
    assert reply_model_problem("https://api.openai.example/v1", policy, ()) is None
    assert not is_local_url("https://localhost.evil.example/v1") and is_local_url("http://localhost:8080")


def test_the_worker_refuses_to_start_with_a_remote_model_and_a_health_source(tmp_path: Path) -> None:
    settings = Settings(storage={"data_dir": tmp_path}, fhir={"base_url": "https://ehr.example/fhir/R4"},
                        reply_model={"url": "https://models.example/v1"})
    (problem,) = health_problems(settings)
    assert "NOSHOW_REPLY_MODEL_URL" in problem
    local = Settings(storage={"data_dir": tmp_path}, fhir={"base_url": "https://ehr.example/fhir/R4"},
                     reply_model={"url": "http://127.0.0.1:8000/v1"})
    assert health_problems(local) == []


def test_payloads_are_encrypted_by_default_once_a_health_source_is_watched(tmp_path: Path) -> None:
    plain = Settings(storage={"data_dir": tmp_path})
    assert payload_key(plain) is None and data_converter(plain).payload_codec is None
    health = Settings(storage={"data_dir": tmp_path}, fhir={"base_url": "https://ehr.example/fhir/R4"})
    key = payload_key(health)
    assert key is not None and (tmp_path / KEY_FILE).stat().st_mode & 0o077 == 0
    assert payload_key(health) == key  # every process of the host shares it
    assert data_converter(health).payload_codec is not None
    given = Settings(storage={"data_dir": tmp_path}, fhir={"base_url": "https://ehr.example/fhir/R4"},
                     temporal={"encryption_key": "k1:" + "A" * 43 + "="})
    assert payload_key(given) == "k1:" + "A" * 43 + "="


def readable(node: Any) -> str:
    """A history as text with every payload's `data` decoded (they are base64 in the JSON form)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "data" and isinstance(item, str):
                    found.append(base64.b64decode(item).decode("utf-8", "replace"))
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(node)
    return json.dumps(node) + "\n".join(found)


@pytest.mark.slow
async def test_a_diagnosis_on_a_fhir_appointment_reaches_no_sink(api: Api) -> None:  # noqa: F811
    now = datetime.now(UTC)
    with FakeFhir() as fake:
        patient = fake.add_patient(phone="+14155550188", email="p.chalmers@example.org")
        fake.add_appointment(patient, now - timedelta(hours=2), status="noshow", extra=DIAGNOSIS)
        page = FhirSource(FhirClient(fake.static_token(), fake.base_url, timeout=2.0)).poll(None,
                                                                                          now + timedelta(minutes=5))
    (snap,) = page.snapshots
    event = diff(snap, None, now, timedelta(days=7), baseline=False)
    assert event is not None
    outcome = await api.stack.cases.submit_event(event)
    assert outcome.status == "accepted" and outcome.case_id, outcome
    handle = api.stack.client.get_workflow_handle(outcome.case_id)
    history = ""
    for _ in range(100):  # until the case has run its first activities (the verdict, what it plans to send)
        history = readable((await handle.fetch_history()).to_json_dict())
        if history.count("EVENT_TYPE_ACTIVITY_TASK_COMPLETED") >= 2:
            break
        await asyncio.sleep(0.1)
    assert history.count("EVENT_TYPE_ACTIVITY_TASK_COMPLETED") >= 2, "the case ran nothing: nothing to look at"
    assert "+14155550188" in history  # the history is readable here: what it lacks below is really absent
    desc = await handle.describe()
    attrs = json.dumps({k: str(v) for k, v in (desc.search_attributes or {}).items()})
    settings = api.stack.deps.settings
    tables = {**sqlite_tables(Path(settings.storage.ledger_db_url.removeprefix("sqlite:///"))),
              **sqlite_tables(settings.storage.local_db_path)}
    for text in CLINICAL:
        assert text not in history, text
        assert text not in attrs, text
        assert not [t for t, rows in tables.items() if text in rows], text
