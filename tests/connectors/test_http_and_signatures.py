"""connectors/http.py error mapping and connectors/signatures.py helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connectors.contract import AmbiguousSendError, PermanentProviderError, RetryableProviderError, SignatureError
from connectors.http import error_from_exception, error_from_response, parse_retry_after
from connectors.signatures import ReplayCache, check_timestamp, constant_time_equals

NOW = datetime(2026, 1, 6, 15, 0, tzinfo=UTC)


def _resp(status: int, body: object = None, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_retry_after_parses_delta_seconds_and_http_date() -> None:
    assert parse_retry_after("120", NOW) == 120
    assert parse_retry_after("Tue, 06 Jan 2026 15:01:30 GMT", NOW) == 90
    assert parse_retry_after("Tue, 06 Jan 2026 14:00:00 GMT", NOW) == 0  # in the past: retry now
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_429_and_5xx_are_retryable_with_delay() -> None:
    err = error_from_response(_resp(429, {"message": "slow"}, {"Retry-After": "3"}), "x", NOW)
    assert isinstance(err, RetryableProviderError) and err.retry_after == 3
    # Calendly sends seconds-until-reset instead of Retry-After
    err = error_from_response(_resp(429, None, {"X-RateLimit-Reset": "42"}), "calendly", NOW)
    assert isinstance(err, RetryableProviderError) and err.retry_after == 42
    assert isinstance(error_from_response(_resp(502), "x"), RetryableProviderError)
    google_rate = {"error": {"errors": [{"reason": "userRateLimitExceeded"}], "code": 403}}
    assert isinstance(error_from_response(_resp(403, google_rate), "google"), RetryableProviderError)


def test_4xx_is_permanent_with_provider_code_and_no_provider_message() -> None:
    err = error_from_response(_resp(400, {"code": 21211, "message": "The 'To' number +15551234567 is not valid"}), "t")
    assert isinstance(err, PermanentProviderError) and err.code == "21211"
    assert "+1555" not in str(err)
    err = error_from_response(_resp(404, {"errors": [{"message": "x", "field": "from.email"}]}), "sendgrid")
    assert isinstance(err, PermanentProviderError) and err.code == "from.email"
    err = error_from_response(httpx.Response(403, text="<html>"), "x")
    assert isinstance(err, PermanentProviderError) and err.code == "403"


def test_transport_errors() -> None:
    req = httpx.Request("POST", "https://example.com")
    assert isinstance(error_from_exception(httpx.ConnectError("x", request=req), "p"), RetryableProviderError)
    assert isinstance(error_from_exception(httpx.ReadTimeout("x", request=req), "p"), RetryableProviderError)
    amb = error_from_exception(httpx.ReadTimeout("x", request=req), "p", ambiguous_after_send=True)
    assert isinstance(amb, AmbiguousSendError)
    # never sent: safe to retry even for non-idempotent sends
    assert isinstance(error_from_exception(httpx.ConnectError("x", request=req), "p", True), RetryableProviderError)


def test_replay_cache_ttl_lru_and_forget() -> None:
    cache = ReplayCache(ttl_seconds=60, max_entries=2)
    cache.check_and_remember("a", NOW)
    with pytest.raises(SignatureError):
        cache.check_and_remember("a", NOW + timedelta(seconds=10))
    cache.check_and_remember("a", NOW + timedelta(seconds=61))  # expired: accepted again
    cache.check_and_remember("b", NOW + timedelta(seconds=62))
    cache.check_and_remember("c", NOW + timedelta(seconds=63))  # evicts the oldest
    assert len(cache) == 2 and not cache.seen("a", NOW + timedelta(seconds=63))
    cache.forget("c")
    cache.check_and_remember("c", NOW + timedelta(seconds=64))


def test_timestamp_window_and_constant_time_compare() -> None:
    check_timestamp(NOW.timestamp() - 299, NOW, 300)
    with pytest.raises(SignatureError):
        check_timestamp(NOW.timestamp() - 301, NOW, 300)
    with pytest.raises(SignatureError):
        check_timestamp(NOW.timestamp() + 301, NOW, 300)
    assert constant_time_equals("abc", "abc") and not constant_time_equals("abc", None)


def test_short_retry_after_is_retried_in_the_client_long_one_is_raised() -> None:
    from connectors.http import JsonApi
    from tests.fakes.base import FakeServer

    class Api(JsonApi):
        provider = "kit-test"
        idempotency_header = "Idempotency-Key"

    with FakeServer() as fake:
        api = Api(fake.base_url)
        fake.rate_limit_next("0")
        assert api.request("GET", "/x", ok=(404,)).status_code == 404  # retried once, then the fake's own 404
        assert len(fake.calls("GET", "/x")) == 2
        fake.rate_limit_next("30")
        with pytest.raises(RetryableProviderError) as info:
            api.request("GET", "/x")
        assert info.value.retry_after == pytest.approx(30)
        # a create without an idempotency key is never repeated by the client
        fake.rate_limit_next("0")
        with pytest.raises(RetryableProviderError):
            api.request("POST", "/y")
        assert len(fake.calls("POST", "/y")) == 1
        fake.rate_limit_next("0")
        api.request("POST", "/z", idempotency_key="case-1:book", ok=(404,))
        assert [r.headers.get("idempotency-key") for r in fake.calls("POST", "/z")] == ["case-1:book"] * 2


def test_rate_limiter_spaces_requests() -> None:
    from connectors.http import RateLimiter

    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(5, 1, clock=lambda: now[0], sleep=sleep)  # ActiveCampaign: 5 requests per second
    for _ in range(7):
        limiter.acquire()
    assert waits == [pytest.approx(0.2), pytest.approx(0.2)]
