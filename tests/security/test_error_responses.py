"""Error responses echo nothing the client sent (workers/api/errors.py) and always render.

FastAPI's default 422 copies every error's raw `input` into the body: a reviewer's note, a customer's text or a
contact's email went straight back out (and into any proxy or client log that keeps error bodies), and an input
JSON cannot encode made the 422 itself a 500. The app under test needs no Temporal: validation runs before any
handler touches a case.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from tests.engine.conftest import settings_for
from tests.fuzz.conftest import fuzz_settings
from tests.helpers import fast_policy
from workers.api.app import create_app
from workers.dependencies import build_dependencies

ADMIN = {"authorization": "Bearer dev-admin-token"}
PHONE, EMAIL = "+15557654321", "jane.canary@example.com"


@pytest_asyncio.fixture(scope="module")
async def http(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[httpx.AsyncClient]:
    """One app for the module: every test here sends requests that fail validation, or start nothing."""
    settings = settings_for(tmp_path_factory.mktemp("errors"), "errors-only", fast_policy())
    app = create_app(settings, client=None, deps=build_dependencies(settings))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def assert_safe_422(r: httpx.Response, *secrets: str) -> list[dict[str, Any]]:
    assert r.status_code == 422, (r.status_code, r.text[:300])
    errors = r.json()["detail"]
    assert isinstance(errors, list) and errors
    for error in errors:
        assert set(error) == {"loc", "msg", "type"}, error
    for secret in secrets:
        assert secret not in r.text, r.text[:300]
    return errors


@pytest.mark.parametrize(("path", "body"), [
    ("/inbound/local", {"case_id": "case-1", "text": f"call me on {PHONE} or {EMAIL} " * 60}),  # over 2,000
    ("/inbound/local", {"case_id": f"{EMAIL}" * 10, "text": "hi"}),  # case_id over 100
    ("/inbound/local", {"case_id": "case-1", "text": "hi", "channel": EMAIL}),  # not a channel
    ("/reviews/case-1/decision", {"review_id": "r-1", "decision": f"call {PHONE}", "note": "x"}),
    ("/reviews/case-1/decision", {"review_id": "r-1", "decision": "approve", "note": f"{EMAIL} " * 100}),
    ("/waitlist", {"contact": {"contact_id": "c-1", "email": f"not an address {PHONE}", "phone": PHONE},
                   "appointment_type": "consult", "calendar_id": ""}),
])
async def test_validation_errors_do_not_echo_the_input(http: httpx.AsyncClient, path: str,
                                                       body: dict[str, Any]) -> None:
    r = await http.post(path, json=body, headers=ADMIN)
    assert_safe_422(r, PHONE, EMAIL, "input")


async def test_a_validation_error_still_says_where_and_what(http: httpx.AsyncClient) -> None:
    r = await http.post("/inbound/local", json={"text": "hi"}, headers=ADMIN)
    (error,) = assert_safe_422(r)
    assert error["loc"] == ["body", "case_id"] and error["type"] == "missing" and error["msg"]


@pytest.mark.parametrize(("body", "content_type"), [
    (b'{"\xed\xa0\x80": 1}', "application/json"),  # json.loads(bytes) decodes with surrogatepass
    (b'{"case_id": "a\\ud800b", "text": "hi"}', "application/json"),  # refused by pydantic, input echoed
    (b"\x80\xff", "text/plain"),  # the raw bytes were the echoed input: bytes.decode() -> 500
    (b"\x80\xff", "application/json"),
])
async def test_inputs_json_cannot_encode_get_a_422_not_a_500(http: httpx.AsyncClient, body: bytes,
                                                             content_type: str) -> None:
    r = await http.post("/inbound/local", content=body, headers={**ADMIN, "content-type": content_type})
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert "input" not in r.text


@pytest.mark.parametrize("url", ["/cases?limit=abc", "/cases?limit=1e400", "/cases?limit=%ED%A0%80",
                                 "/waitlist?appointment_type=&calendar_id=c", "/dashboard?since=" + "x" * 50])
async def test_query_validation_errors_name_the_parameter_only(http: httpx.AsyncClient, url: str) -> None:
    r = await http.get(url, headers=ADMIN)
    errors = assert_safe_422(r, "abc", "1e400", "x" * 41)
    assert all(e["loc"][0] == "query" for e in errors), errors


@fuzz_settings(150)
@given(doc=st.dictionaries(st.sampled_from(["case_id", "text", "channel", "sender", "extra"]),
                           st.one_of(st.none(), st.integers(), st.text(max_size=3000), st.lists(st.integers()),
                                     st.just(PHONE * 200)), max_size=5))
async def test_any_json_body_gets_a_2xx_or_a_clean_4xx(http: httpx.AsyncClient, doc: dict[str, Any]) -> None:
    """Valid bodies reach the handler and get a 503 (no Temporal here); everything else a clean 422."""
    r = await http.post("/inbound/local", content=json.dumps(doc).encode(),
                        headers={**ADMIN, "content-type": "application/json"})
    if r.status_code == 503:
        return
    errors = assert_safe_422(r)
    assert len(errors) <= 20


# ------------------------------------------------------------------ Content-Length


@pytest.mark.parametrize(("values", "status"), [
    ([b"\xb2"], 400),  # '²'.isdigit() is True, int('²') raises: it was a 500
    ([b"\xb9\xb2\xb3"], 400),
    ([b"2", b"3"], 400),  # conflicting duplicates (RFC 9110 8.6)
    ([b"9" * 5000], 413),  # int() of it raised ValueError past 4,300 digits
    ([b"0" * 30 + b"2"], None),  # leading zeros are still the number 2
    ([b"2", b"2"], None),  # identical duplicates are one value
])
async def test_content_length_is_checked_before_any_route(http: httpx.AsyncClient, values: list[bytes],
                                                          status: int | None) -> None:
    body = b"{}"
    for path in ("/webhooks/events", "/inbound/local", "/book/x"):
        headers = [(b"authorization", b"Bearer dev-admin-token"), (b"content-type", b"application/json"),
                   *((b"content-length", v) for v in values)]
        r = await http.post(path, content=body, headers=headers)
        if status is None:
            assert r.status_code not in (400, 413) or "Content-Length" not in r.text, (path, r.text[:200])
            assert r.status_code < 500, (path, r.status_code, r.text[:200])
        else:
            assert r.status_code == status, (path, r.status_code, r.text[:200])
