"""Free text typed into a provider's appointment type or event name never reaches the places that must carry no
personal data: the policy maps it to a key it names, else `other`, where events enter."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from policies.appointment_types import OTHER, known_appointment_type
from policies.loader import load_policy
from tests.api.conftest import Api, api, envelope  # noqa: F401 (fixture)
from tests.security.sweep import sqlite_tables

DEFAULT_POLICY = Path(__file__).parents[2] / "policies" / "defaults" / "default.yaml"


def test_known_types_survive_and_free_text_becomes_other() -> None:
    policy = load_policy(DEFAULT_POLICY)
    assert known_appointment_type(policy, "consultation") == "consultation"
    assert known_appointment_type(policy, "Consultation") == "consultation"
    assert known_appointment_type(policy, "Consultation - Jane Doe") == "consultation"
    assert known_appointment_type(policy, "Meeting with Jane Doe") == OTHER
    assert known_appointment_type(policy, "jane.doe@example.com") == OTHER
    assert known_appointment_type(policy, "unknown") == "unknown"


async def test_a_name_in_the_appointment_type_stays_out_of_search_attributes_and_ledger(api: Api) -> None:  # noqa: F811
    name = f"Zelda Q{uuid.uuid4().hex[:6]}x"
    start = datetime.now(UTC) + timedelta(days=2)
    cases = []
    for typed in (f"Consultation - {name}", f"Meeting with {name}"):
        payload = envelope(appointment_id=f"A-{uuid.uuid4().hex[:8]}", appointment_type=typed, start=start)
        r = await api.post_event(payload)
        assert r.status_code == 200, r.text
        cases += [e["case_id"] for e in r.json()["events"] if e["case_id"]]
    ledger = api.stack.deps.settings.storage.ledger_db_url.removeprefix("sqlite:///")
    tables = sqlite_tables(Path(ledger))
    assert tables, "no ledger tables"
    assert not [t for t, text in tables.items() if name in text]
    assert cases, "no case started: the check below would test nothing"
    for case_id in cases:
        desc = await api.stack.client.get_workflow_handle(case_id).describe()
        attrs = json.dumps({k: str(v) for k, v in (desc.search_attributes or {}).items()})
        assert name not in attrs and "Meeting with" not in attrs, attrs
