"""Bad input on the webhook route and the JSON routes: malformed, oversized and unsigned requests.

Unsigned garbage gets 401; validly signed garbage gets a 4xx (or 200 listing an unknown type), never a 5xx;
oversized bodies get 413 before the body is read; nothing invalid starts a case.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.models import EventType
from tests.fuzz.conftest import FuzzApi, envelope, fuzz_settings
from tests.helpers import appointment, event

ROUTE = "/webhooks/events"
KNOWN_TYPES = {t.value for t in EventType}
ADMIN = {"authorization": "Bearer dev-admin-token"}

# ------------------------------------------------------------------ strategies

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


def valid_envelope() -> bytes:
    ev = event(appointment(), EventType.no_show)
    return envelope(EventType.no_show.value, ev.model_dump(mode="json"))


@st.composite
def truncated_json(draw: st.DrawFn) -> bytes:
    body = valid_envelope()
    return body[: draw(st.integers(0, len(body) - 1))]


@st.composite
def invalid_utf8(draw: st.DrawFn) -> bytes:
    body = valid_envelope()
    at = draw(st.integers(0, len(body)))
    bad = draw(st.sampled_from([b"\xff", b"\xfe\xff", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
                                b"\xe2\x82"]))
    return body[:at] + bad + body[at:]


# deep enough to pass the parser's recursion limit (connectors.inbound.load_json answers 422 there)
MAX_FUZZ_DEPTH = 60_000


@st.composite
def deeply_nested(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(1, MAX_FUZZ_DEPTH))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
    inner = opener * depth + b"1" + closer * depth
    where = draw(st.sampled_from(["top", "data", "type"]))
    if where == "top":
        return inner
    return b'{"type": "appointment.no_show", "' + where.encode() + b'": ' + inner + b"}"


@st.composite
def form_body(draw: st.DrawFn) -> bytes:
    fields = draw(st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=5))
    if draw(st.booleans()):
        fields["type"] = draw(st.sampled_from(sorted(KNOWN_TYPES)))
    return urlencode(fields).encode()


bad_bodies = st.one_of(
    st.binary(max_size=2048),
    truncated_json(),
    invalid_utf8(),
    deeply_nested(),
    form_body(),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(lambda t, d: envelope(t, d), st.sampled_from(sorted(KNOWN_TYPES)), json_values),
)
content_types = st.one_of(
    st.none(),
    st.sampled_from(["application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded",
                     "multipart/form-data; boundary=xyz", "text/plain", "text/xml", "application/octet-stream",
                     "application/json; charset=latin-1", ""]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
)


# ------------------------------------------------------------------ properties


@fuzz_settings(60)
@given(body=bad_bodies, content_type=content_types)
async def test_unsigned_bad_bodies_get_401(fuzz_api: FuzzApi, body: bytes, content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    r = await fuzz_api.post(ROUTE, body, headers)
    # a body over the limit is refused before it is read, so before its signature could be checked
    expected = 413 if len(body) > fuzz_api.max_body else 401
    assert r.status_code == expected, (len(body), r.status_code, r.text[:300])


@fuzz_settings(120)
@given(body=bad_bodies, content_type=content_types)
async def test_signed_bad_bodies_get_4xx_never_5xx(fuzz_api: FuzzApi, body: bytes, content_type: str | None) -> None:
    r = await fuzz_api.post(ROUTE, body, fuzz_api.signed_headers(body, content_type))
    assert r.status_code < 500, f"{r.status_code} for a signed body of {len(body)} bytes: {body[:120]!r}"
    if r.status_code == 200:
        ack = r.json()
        assert ack["unknown_types"] and not ack["events"], ack
        assert ack["unknown_types"][0] not in KNOWN_TYPES
    else:
        assert 400 <= r.status_code < 500 and r.json()["detail"], r.text[:300]


@fuzz_settings(40)
@given(kind=st.text(min_size=1, max_size=80).filter(lambda s: s not in KNOWN_TYPES), data=json_values)
async def test_unknown_signed_event_types_are_acknowledged_and_listed(fuzz_api: FuzzApi, kind: str,
                                                                      data: object) -> None:
    body = envelope(kind, data)
    r = await fuzz_api.post(ROUTE, body, fuzz_api.signed_headers(body))
    assert r.status_code == 200, r.text[:300]
    assert r.json()["unknown_types"] == [kind] and r.json()["events"] == []


@fuzz_settings(40)
@given(path=st.sampled_from(["/inbound/local", "/reviews/case-1/decision"]), body=bad_bodies,
       content_type=content_types)
async def test_json_routes_reject_wrong_bodies_with_4xx(fuzz_api: FuzzApi, path: str, body: bytes,
                                                       content_type: str | None) -> None:
    headers = dict(ADMIN) if content_type is None else {**ADMIN, "content-type": content_type}
    r = await fuzz_api.post(path, body, headers)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])


# FastAPI's default 422 echoed the raw `input`, and rendering an input JSON cannot encode was a 500;
# workers/api/errors.py answers with loc/msg/type only.


@pytest.mark.parametrize("path", ["/inbound/local", "/reviews/case-1/decision"])
async def test_surrogate_bytes_in_json_body_get_4xx(fuzz_api: FuzzApi, path: str) -> None:
    r = await fuzz_api.post(path, b'{"\xed\xa0\x80": 1}', {**ADMIN, "content-type": "application/json"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])


@pytest.mark.parametrize(("path", "field"), [
    ("/inbound/local", "case_id"),
    ("/inbound/local", "text"),
    ("/inbound/local", "review_id"),
    ("/reviews/case-1/decision", "review_id"),
    ("/reviews/case-1/decision", "note"),
])
async def test_escaped_lone_surrogates_in_json_fields_are_not_a_5xx(fuzz_api: FuzzApi, path: str,
                                                                    field: str) -> None:
    doc = {"case_id": "case-1", "text": "hello", "review_id": "r-1", "decision": "approve", field: "a\ud800b"}
    body = json.dumps(doc).encode()  # plain ASCII on the wire: "a\\ud800b"
    r = await fuzz_api.post(path, body, {**ADMIN, "content-type": "application/json"})
    assert r.status_code < 500, (r.status_code, r.text[:300])


async def test_escaped_lone_surrogate_as_event_type_is_not_a_5xx(fuzz_api: FuzzApi) -> None:
    body = b'{"type": "\\ud800", "data": {}}'
    r = await fuzz_api.post(ROUTE, body, fuzz_api.signed_headers(body))
    assert r.status_code < 500, (r.status_code, r.text[:300])


@pytest.mark.parametrize("path", ["/inbound/local", "/reviews/case-1/decision"])
async def test_non_utf8_body_on_json_route_gets_4xx(fuzz_api: FuzzApi, path: str) -> None:
    r = await fuzz_api.post(path, b"\x80", {**ADMIN, "content-type": "text/plain"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])


@fuzz_settings(20)
@given(body=st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200)),
       content_type=st.sampled_from(["application/json", "application/octet-stream", "text/plain"]))
async def test_form_route_rejects_json_and_bytes_with_4xx(fuzz_api: FuzzApi, body: bytes, content_type: str) -> None:
    r = await fuzz_api.post("/book/not-a-token", body, {"content-type": content_type})
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])


# ------------------------------------------------------------------ named cases (run even when hypothesis shrinks)


@pytest.mark.parametrize("depth", [100, 10_000, 100_000])
async def test_signed_deeply_nested_json_gets_4xx(fuzz_api: FuzzApi, depth: int) -> None:
    body = b"[" * depth + b"]" * depth
    r = await fuzz_api.post(ROUTE, body, fuzz_api.signed_headers(body))
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:200])


async def test_unknown_envelope_fields_are_ignored(fuzz_api: FuzzApi) -> None:
    ev = event(appointment(), EventType.no_show)
    body = json.dumps({"type": ev.type.value, "timestamp": "2026-01-01T00:00:00Z", "data": ev.model_dump(mode="json"),
                       "x-unknown": {"nested": [1, 2]}, "version": 99}).encode()
    r = await fuzz_api.http.post(ROUTE, content=body, headers=fuzz_api.signed_headers(body))
    assert r.status_code == 200, r.text
    assert [e["status"] for e in r.json()["events"]] == ["accepted"]


# ------------------------------------------------------------------ 413


async def test_limit_plus_one_byte_gets_413_signed_or_not(fuzz_api: FuzzApi) -> None:
    big = b"x" * (fuzz_api.max_body + 1)
    assert (await fuzz_api.post(ROUTE, big, {"content-type": "application/json"})).status_code == 413
    assert (await fuzz_api.post(ROUTE, big, fuzz_api.signed_headers(big))).status_code == 413
    at_limit = b"x" * fuzz_api.max_body
    assert (await fuzz_api.post(ROUTE, at_limit, {"content-type": "application/json"})).status_code == 401


class Upload:
    """An endless chunked upload that counts what the server pulled, so a test can prove it stopped early."""

    def __init__(self, chunk: int = 16 * 1024, total: int = 10 * 1024 * 1024) -> None:
        self.chunk, self.total, self.pulled = chunk, total, 0

    async def body(self) -> AsyncIterator[bytes]:
        while self.pulled < self.total:
            self.pulled += self.chunk
            yield b"[" * self.chunk


async def test_chunked_body_without_length_gets_413_before_it_is_all_read(fuzz_api: FuzzApi) -> None:
    upload = Upload()
    r = await fuzz_api.http.post(ROUTE, content=upload.body(), headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert upload.pulled <= fuzz_api.max_body + 2 * upload.chunk, f"read {upload.pulled} bytes of a 10 MB upload"


async def test_declared_length_over_the_limit_gets_413_without_reading_the_body(fuzz_api: FuzzApi) -> None:
    upload = Upload()
    headers = {"content-type": "application/json", "content-length": str(upload.total)}
    r = await fuzz_api.http.post(ROUTE, content=upload.body(), headers=headers)
    assert r.status_code == 413, r.text
    assert upload.pulled <= upload.chunk  # the transport may prime one chunk; the app reads none


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1e3", b" 12", b"\xb2", b"99999999999999999999999"])
async def test_malformed_content_length_gets_4xx(fuzz_api: FuzzApi, length: bytes) -> None:
    body = b"{}"
    headers = [*((k.encode(), v.encode()) for k, v in fuzz_api.signed_headers(body).items()),
               (b"content-length", length)]
    r = await fuzz_api.http.post(ROUTE, content=body, headers=headers)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:200])


# ------------------------------------------------------------------ afterwards: nothing started


@pytest.mark.own_stack
async def test_no_case_from_invalid_input(fuzz_api: FuzzApi) -> None:
    """A mixed burst of invalid requests on one stack; then not one workflow exists on its task queue."""
    bodies = [b"", b"{", b"\xff\xfe", b"[" * 100, b"type=appointment.no_show", valid_envelope()[:-1],
              envelope("appointment.no_show", {"appointment": {"source": "x"}})]
    for body in bodies:
        await fuzz_api.post(ROUTE, body, {"content-type": "application/json"})
        await fuzz_api.post(ROUTE, body, fuzz_api.signed_headers(body))
        stale = fuzz_api.signed_headers(body, ts=int(time.time()) - 3600, msg_id=f"msg_{uuid.uuid4().hex}")
        await fuzz_api.post(ROUTE, body, stale)
    assert fuzz_api.accepted_events() == []
    assert all(r.status_code < 500 for r in fuzz_api.responses), [r.status_code for r in fuzz_api.responses]
    assert await fuzz_api.workflows_started() == 0
