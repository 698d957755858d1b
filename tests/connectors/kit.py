"""Connector conformance kit. Every inbound connector and every outbound client is described by a case and run
through the same checks (tests/connectors/test_conformance.py parametrizes over all cases):

Inbound: recorded fixtures parse into the expected canonical events (and unknown types are listed, not raised);
a known-good signed request (its signature computed once with the provider's SDK helper or documented
algorithm) is accepted at its frozen `now`; forged, truncated, unsigned, stale and replayed
requests raise SignatureError; dedupe keys and event ids are stable across retries of the same delivery;
contact ids are opaque (never an email).
Outbound: a representative call hits the fake and the fake recorded it; 429 + Retry-After (delta seconds and
HTTP-date) -> RetryableProviderError with retry_after; 500, a hung request (timeout) and a reset connection ->
RetryableProviderError (or AmbiguousSendError for non-idempotent sends); 400/404 -> PermanentProviderError with
the provider's error code.

Other connector packages add cases by creating `tests/connectors/cases_<name>.py` with `inbound_cases()` and/or
`outbound_cases()` returning lists of the dataclasses below; `all_inbound_cases()` discovers them.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.contract import (
    AmbiguousSendError,
    InboundConnector,
    PermanentProviderError,
    RawRequest,
    RetryableProviderError,
    SignatureError,
    WebhookResult,
)
from connectors.inbound import InboundBase
from tests.fakes.base import FakeServer

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 1, 6, 15, 30, tzinfo=UTC)  # frozen clock for signing and verifying


def fixture_bytes(provider: str, name: str) -> bytes:
    return (FIXTURES / provider / name).read_bytes()


def fixture_json(provider: str, name: str) -> Any:
    return json.loads(fixture_bytes(provider, name))


@dataclass
class FixtureCase:
    file: str  # under fixtures/<provider>/
    events: list[str]  # expected canonical EventType values, in order
    unknown: list[str] = field(default_factory=list)
    response: Any = None  # expected handshake response body, if any
    check: Callable[[WebhookResult], None] | None = None  # extra provider-specific assertions


@dataclass
class InboundCase:
    name: str
    provider: str  # fixtures folder
    make: Callable[[], InboundConnector]  # a fresh connector (fresh replay cache)
    sign: Callable[[bytes, datetime], RawRequest]  # an authentic request for `body` sent at `at`
    forge: Callable[[RawRequest], RawRequest]  # same request, signature made with the wrong secret
    truncate: Callable[[RawRequest], RawRequest]  # signature header cut short
    unsign: Callable[[RawRequest], RawRequest]  # signature header removed
    fixtures: list[FixtureCase]
    vector: RawRequest | None = None  # a known-good signed request, if the provider's scheme allows one
    vector_now: datetime | None = None
    stale_after: timedelta | None = None  # None: the scheme signs no timestamp
    body_for: Callable[[str], bytes] | None = None  # how a fixture file becomes a body (default: its bytes)
    tamper_body: bool = True  # False when the body is not signed (Google push has no body)


@dataclass
class OutboundCase:
    name: str
    fake: Callable[[], FakeServer]
    call: Callable[[str, float], Any]  # (fake base_url, timeout seconds) -> performs one representative call
    path_contains: str  # what the fake must have recorded
    error_body: Callable[[int], Any]  # the provider's error body for a 4xx status
    expected_code: Callable[[int], str]  # the code PermanentProviderError must carry for that status
    ambiguous_on_reset: bool = False


# ------------------------------------------------------------------------------------------------ discovery


def _modules() -> list[Any]:
    mods = [importlib.import_module("tests.connectors.cases")]
    here = Path(__file__).parent
    for info in pkgutil.iter_modules([str(here)]):
        if info.name.startswith("cases_"):
            mods.append(importlib.import_module(f"tests.connectors.{info.name}"))
    return mods


def all_inbound_cases() -> list[InboundCase]:
    return [c for m in _modules() if hasattr(m, "inbound_cases") for c in m.inbound_cases()]


def all_outbound_cases() -> list[OutboundCase]:
    return [c for m in _modules() if hasattr(m, "outbound_cases") for c in m.outbound_cases()]


# ------------------------------------------------------------------------------------------------ inbound checks


def _body(case: InboundCase, file: str) -> bytes:
    return case.body_for(file) if case.body_for else fixture_bytes(case.provider, file)


def check_fixtures(case: InboundCase) -> None:
    for fx in case.fixtures:
        conn = case.make()
        req = case.sign(_body(case, fx.file), NOW)
        conn.verify(req, NOW)
        result = conn.parse(req)
        assert [e.type.value for e in result.events] == fx.events, fx.file
        assert result.unknown_types == fx.unknown, fx.file
        if fx.response is not None:
            assert result.response == fx.response, fx.file
        for event in result.events:
            assert "@" not in event.appointment.contact.contact_id, "contact_id must be opaque"
            assert "@" not in event.event_id
            assert event.occurred_at.tzinfo is not None
        if fx.check:
            fx.check(result)


def check_vector(case: InboundCase) -> None:
    if case.vector is None:
        pytest.skip(f"{case.name}: no documented test vector")
    assert case.vector_now is not None
    case.make().verify(case.vector, case.vector_now)


def _first_body(case: InboundCase) -> bytes:
    return _body(case, case.fixtures[0].file)


def check_rejects_forged(case: InboundCase) -> None:
    good = case.sign(_first_body(case), NOW)
    with pytest.raises(SignatureError):
        case.make().verify(case.forge(good), NOW)
    if case.tamper_body and good.body:
        tampered = good.model_copy(update={"body": good.body.replace(b"2026", b"2027", 1) + b" "})
        with pytest.raises(SignatureError):
            case.make().verify(tampered, NOW)


def check_rejects_truncated(case: InboundCase) -> None:
    good = case.sign(_first_body(case), NOW)
    with pytest.raises(SignatureError):
        case.make().verify(case.truncate(good), NOW)
    with pytest.raises(SignatureError):
        case.make().verify(case.unsign(good), NOW)


def check_rejects_stale(case: InboundCase) -> None:
    if case.stale_after is None:
        pytest.skip(f"{case.name}: the scheme signs no timestamp (replay cache only)")
    old = case.sign(_first_body(case), NOW - case.stale_after - timedelta(seconds=1))
    with pytest.raises(SignatureError):
        case.make().verify(old, NOW)
    future = case.sign(_first_body(case), NOW + case.stale_after + timedelta(seconds=1))
    with pytest.raises(SignatureError):
        case.make().verify(future, NOW)
    inside = case.sign(_first_body(case), NOW - case.stale_after + timedelta(seconds=5))
    case.make().verify(inside, NOW)


def check_rejects_replay(case: InboundCase) -> None:
    conn = case.make()
    req = case.sign(_first_body(case), NOW)
    conn.verify(req, NOW)
    with pytest.raises(SignatureError):
        conn.verify(req, NOW + timedelta(seconds=1))


def check_dedupe_stable(case: InboundCase) -> None:
    for fx in case.fixtures:
        body = _body(case, fx.file)
        first = case.make()
        second = case.make()
        a = case.sign(body, NOW)
        b = case.sign(body, NOW + timedelta(seconds=30))  # the provider's retry, signed again
        first.verify(a, NOW)
        second.verify(b, NOW + timedelta(seconds=30))
        ra, rb = first.parse(a), second.parse(b)
        assert ra.dedupe_key == rb.dedupe_key, fx.file
        if isinstance(first, InboundBase):
            # the signed bytes' digest is the second key: the same for a retry of the same body, not for another
            assert first.delivery_keys(a)[1] == second.delivery_keys(b)[1], fx.file
            other = b.model_copy(update={"body": b.body + b" "})
            assert first.delivery_keys(other)[1] != first.delivery_keys(a)[1], fx.file
        assert [e.event_id for e in ra.events] == [e.event_id for e in rb.events], fx.file
        if ra.events:
            assert ra.dedupe_key, f"{fx.file}: events without a dedupe key"


# ------------------------------------------------------------------------------------------------ outbound checks


def check_outbound_success(case: OutboundCase) -> None:
    with case.fake() as fake:
        case.call(fake.base_url, 5.0)
        assert fake.calls(path_contains=case.path_contains), "the fake did not record the call"


def check_outbound_rate_limit(case: OutboundCase) -> None:
    with case.fake() as fake:
        fake.rate_limit_next("7")
        with pytest.raises(RetryableProviderError) as info:
            case.call(fake.base_url, 5.0)
        assert info.value.retry_after == pytest.approx(7)
        when = datetime.now(UTC) + timedelta(seconds=120)
        fake.rate_limit_next(format_datetime(when, usegmt=True))
        with pytest.raises(RetryableProviderError) as info:
            case.call(fake.base_url, 5.0)
        assert info.value.retry_after is not None and 100 <= info.value.retry_after <= 121


def check_outbound_server_errors(case: OutboundCase) -> None:
    with case.fake() as fake:
        for status in (500, 503):
            fake.fail_next(status, {"message": "internal"})
            with pytest.raises(RetryableProviderError):
                case.call(fake.base_url, 5.0)
        fake.hang_next()
        with pytest.raises(AmbiguousSendError if case.ambiguous_on_reset else RetryableProviderError):
            case.call(fake.base_url, 0.3)
        fake.reset_next()
        with pytest.raises(AmbiguousSendError if case.ambiguous_on_reset else RetryableProviderError):
            case.call(fake.base_url, 5.0)


def check_outbound_client_errors(case: OutboundCase) -> None:
    with case.fake() as fake:
        for status in (400, 404):
            fake.fail_next(status, case.error_body(status))
            with pytest.raises(PermanentProviderError) as info:
                case.call(fake.base_url, 5.0)
            assert info.value.code == case.expected_code(status)
            assert not isinstance(info.value, RetryableProviderError)
