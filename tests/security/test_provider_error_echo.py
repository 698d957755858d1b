"""A provider's validly signed payload that fails validation gets a 422 that echoes nothing it carried.

pydantic's `ValidationError` text holds `input_value=...` (an over-long meeting id, a name, an email): the webhook
route used to put that text into its 422. Every field of the recorded Zoom and HubSpot payloads is replaced in
turn by values that fail validation, each carrying a canary; no 4xx may contain the canary or pydantic's input.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fuzz.test_provider_webhooks import (  # noqa: F401 (fixtures)
    ProviderApi,
    module_provider_api,
    post_signed,
    provider_api,
)

CANARY = "zed.canary@example.com"
FIXTURES = Path(__file__).parents[1] / "connectors" / "fixtures"
BAD_VALUES: list[Any] = [CANARY, {"x": CANARY}, [CANARY], 10**30, -1, 1.5, True, None, "",
                         "2026-01-06T15:02:11" + CANARY, "x" * 300 + CANARY]


def paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else []
    for key, value in items:
        yield (*prefix, key)
        yield from paths(value, (*prefix, key))


def replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(doc)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


@pytest.mark.parametrize("provider,fixture", [("zoom", "participant_joined.json"), ("zoom", "meeting_ended.json"),
                                              ("hubspot", "meeting_outcome_no_show.json")])
async def test_invalid_provider_fields_are_refused_without_echo(provider_api: ProviderApi, provider: str,  # noqa: F811
                                                                fixture: str) -> None:
    doc = json.loads((FIXTURES / provider / fixture).read_text())
    refused, leaks = 0, []
    for path in paths(doc):
        for value in BAD_VALUES:
            r = await post_signed(provider_api, provider, json.dumps(replaced(doc, path, value)).encode())
            assert r.status_code < 500, (path, r.text[:200])
            if r.status_code >= 400:
                refused += 1
                if CANARY in r.text or "input_value" in r.text or "x" * 50 in r.text:
                    leaks.append((path, r.text[:200]))
    assert refused, "no mutation was refused: the sweep tested nothing"
    assert not leaks, leaks
