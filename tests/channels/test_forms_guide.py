"""The forms guide and the published schemas say what the engine does: every JSON example in docs/forms.md
validates against its type's schema and is accepted by the generic route's parser when signed with the guide's
own Python relay snippet; the files under docs/schemas/events/ are the schemas the API serves."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from connectors.contract import RawRequest
from connectors.event_schemas import event_types, schema_for
from connectors.standard_webhooks import StandardWebhooksInbound

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "forms.md").read_text()
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # a test secret (24 bytes, base64)


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE, flags=re.S)


def _relay() -> dict[str, Any]:
    """The guide's Python relay, run as a reader would paste it."""
    [snippet] = [b for b in _blocks("python") if "def signed_headers" in b]
    namespace: dict[str, Any] = {}
    exec(compile(snippet, "docs/forms.md", "exec"), namespace)  # our own documentation
    return namespace


@pytest.mark.parametrize("example", _blocks("json"), ids=lambda b: json.loads(b)["type"])
def test_each_example_matches_its_schema_and_the_route_takes_it(example: str) -> None:
    event = json.loads(example)
    jsonschema.validate(event, schema_for(event["type"]))
    body = json.dumps(event).encode()
    headers = _relay()["signed_headers"](SECRET, body)
    request = RawRequest(method="POST", url="https://noshow.example.com/webhooks/events", headers=headers, body=body)
    hook = StandardWebhooksInbound(SECRET)
    hook.verify(request, datetime.now(UTC))
    result = hook.parse(request)
    assert len(result.events) + len(result.missed_calls) == 1 and not result.unknown_types


def test_the_guide_names_every_event_type_and_the_published_files_are_current() -> None:
    for event_type in event_types():
        if event_type.startswith("phone.") or event_type in ("appointment.booked", "appointment.cancelled"):
            assert event_type in GUIDE
        path = ROOT / "docs" / "schemas" / "events" / f"{event_type}.json"
        assert json.loads(path.read_text()) == schema_for(event_type), f"stale {path.name}: run the export script"
        jsonschema.Draft202012Validator.check_schema(schema_for(event_type))


def test_the_schema_refuses_what_the_route_refuses() -> None:
    schema = schema_for("phone.call_missed")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"type": "phone.call_missed", "data": {"status": "busy"}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"type": "appointment.booked", "data": {"caller": "+14155550100"}}, schema)
