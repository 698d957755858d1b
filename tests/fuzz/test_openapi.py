"""Schema-driven fuzzing: schemathesis generates requests for every operation in the API's own OpenAPI document,
positive and negative, with and without a token; not one may get a 5xx, and none may start a case.

The cases are drawn from schemathesis' hypothesis strategies and sent through httpx's ASGI transport in the test's
own event loop, where the worker and the Temporal client live. (schemathesis' `case.call()` ASGI transport runs the
app on a separate portal thread and loop, which the Temporal client of the app would then be used from.)
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.engine.conftest import settings_for
from tests.fuzz.conftest import FuzzApi, fuzz_settings
from tests.helpers import fast_policy
from workers.api.app import create_app
from workers.dependencies import build_dependencies


def load_schema() -> Any:
    """The document the app serves (built offline: no Temporal, no lifespan), as schemathesis sees it."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        s = settings_for(Path(tmp), "schema-only", fast_policy())
        document = create_app(s, client=None, deps=build_dependencies(s)).openapi()
    return schemathesis.openapi.from_dict(document)


SCHEMA = load_schema()
TOKENS = [None, "Bearer dev-admin-token", "Bearer dev-reviewer-token", "Bearer wrong"]


OPERATIONS = {op.ok().label: op.ok() for op in SCHEMA.get_all_operations()}


def strategy(label: str | None = None) -> st.SearchStrategy[Any]:
    """Positive and negative cases for one operation (or all), with no, admin, reviewer and wrong tokens."""
    sources = [OPERATIONS[label]] if label else list(OPERATIONS.values())
    parts = []
    for op in sources:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for token in TOKENS:
                headers = {"Authorization": token} if token else None
                parts.append(op.as_strategy(generation_mode=mode, headers=headers))
    return st.one_of(parts)


def to_httpx(case: Any) -> httpx.Request:
    """schemathesis serialises for `requests`; let requests build the exact bytes, then send those."""
    kwargs = case.as_transport_kwargs(base_url="http://test")
    kwargs.pop("timeout", None)
    kwargs.pop("allow_redirects", None)
    prepared = requests.Request(**{k: v for k, v in kwargs.items() if k in {
        "method", "url", "headers", "params", "data", "json", "files", "cookies", "auth"}}).prepare()
    body = prepared.body.encode() if isinstance(prepared.body, str) else (prepared.body or b"")
    headers = [(k.encode("latin-1"), v.encode("latin-1") if isinstance(v, str) else v)
               for k, v in prepared.headers.items()]
    return httpx.Request(prepared.method or "GET", prepared.url or "http://test/", headers=headers, content=body)


@pytest.mark.parametrize("label", sorted(OPERATIONS))
@fuzz_settings(25)
@given(data=st.data())
async def test_no_operation_answers_5xx(fuzz_api: FuzzApi, label: str, data: st.DataObject) -> None:
    case = data.draw(strategy(label), label="case")
    response = await fuzz_api.http.send(to_httpx(case))
    fuzz_api.responses.append(response)
    assert response.status_code < 500, (
        f"{response.status_code} from {label}\nReproduce with:\n    {case.as_curl_command()}\n{response.text[:300]}")
    case.validate_response(response, checks=[not_a_server_error])


@pytest.mark.own_stack
async def test_schema_fuzzing_starts_no_case(fuzz_api: FuzzApi) -> None:
    """A fixed burst of generated requests (same derandomised examples) on one stack, then count workflows."""
    seen: list[int] = []

    @fuzz_settings(60)
    @given(case=strategy())
    def collect(case: Any) -> None:
        requests_.append(to_httpx(case))

    requests_: list[httpx.Request] = []
    collect()
    for request in requests_:
        response = await fuzz_api.http.send(request)
        seen.append(response.status_code)
    assert requests_ and all(code < 500 for code in seen), seen
    assert fuzz_api.accepted_events() == []
    assert await fuzz_api.workflows_started() == 0


def test_every_operation_is_fuzzed() -> None:
    labels = {op.ok().label for op in SCHEMA.get_all_operations()}
    assert {"POST /webhooks/{provider}", "POST /reviews/{case_id}/decision", "POST /inbound/local",
            "GET /cases/{case_id}", "POST /book/{token}", "GET /health"} <= labels, labels
