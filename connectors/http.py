"""Map provider HTTP outcomes onto the contract's errors, once, for every httpx-based connector.

429 (and 503) with Retry-After -> RetryableProviderError(retry_after=seconds); other 5xx, 408, timeouts and
connection errors -> RetryableProviderError; other 4xx -> PermanentProviderError(code=<provider error code>).
Exception messages carry the provider name, status and code only: provider messages can echo an email or a
phone number back, so they never reach an exception (they end up in logs).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from connectors.contract import (
    AmbiguousSendError,
    PermanentProviderError,
    ProviderError,
    RetryableProviderError,
)

# Codes some providers send with a 403 that only mean "slow down" (Google Calendar's rate limits).
DEFAULT_RETRYABLE_CODES = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})


def segment(value: str, safe: str = "") -> str:
    """One path segment, percent-escaped: an id with `#`, `/`, `?` or `%` (Google's holiday and imported
    calendars, `en.usa#holiday@group.v.calendar.google.com`) must not cut or reshape the request path."""
    return quote(str(value), safe=safe)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from `now`: delta-seconds ("120") or an HTTP-date. None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            at = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if at is None:
            return None
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        seconds = (at - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _retry_after_from(response: httpx.Response, now: datetime | None) -> float | None:
    seconds = parse_retry_after(response.headers.get("retry-after"), now)
    if seconds is None:
        # Calendly sends the seconds until reset here instead of Retry-After.
        reset = response.headers.get("x-ratelimit-reset")
        if reset is not None:
            try:
                value = float(reset)
            except ValueError:
                value = -1
            # a unix timestamp (Cal.com's X-RateLimit-Reset-Default style) is far larger than a delta
            if 0 <= value < 86_400:
                seconds = value
    return seconds


def error_code(response: httpx.Response) -> str | None:
    """The provider's own error code from a JSON error body, across the shapes our providers use."""
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return None
    return _code_from_body(body)


def _code_from_body(body: Any) -> str | None:
    if isinstance(body, list) and body:
        return _code_from_body(body[0])
    if not isinstance(body, dict):
        return None
    err = body.get("error")
    if isinstance(err, dict):
        # Google: {"error": {"errors": [{"reason": ...}], "status": "NOT_FOUND"}}; Graph/Cal.com: {"error": {"code"}}
        errors = err.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict) and errors[0].get("reason"):
            return str(errors[0]["reason"])
        for key in ("code", "status"):
            if err.get(key) not in (None, ""):
                return str(err[key])
    if isinstance(err, str) and err:
        return err  # Slack {"ok": false, "error": "channel_not_found"}
    for key in ("code", "error_code", "category", "subCategory", "title"):
        # Twilio/Zoom "code", HubSpot "category", Calendly "title"
        if body.get(key) not in (None, ""):
            return str(body[key])
    for key in ("data", "watch"):
        # Zoho answers a refused record inside its array: {"data": [{"code": "MANDATORY_NOT_FOUND", "status": "error"}]}
        items = body.get(key)
        if isinstance(items, list) and items and isinstance(items[0], dict) and items[0].get("status") == "error" \
                and items[0].get("code"):
            return str(items[0]["code"])
    issues = body.get("issue")
    if body.get("resourceType") == "OperationOutcome" and isinstance(issues, list) and issues \
            and isinstance(issues[0], dict) and issues[0].get("code"):
        return str(issues[0]["code"])  # FHIR: {"resourceType": "OperationOutcome", "issue": [{"code": "conflict"}]}
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        for key in ("code", "error_code", "field"):  # SendGrid: [{"message", "field", "help"}]
            if first.get(key) not in (None, ""):
                return str(first[key])
    return None


def error_from_response(
    response: httpx.Response,
    provider: str,
    now: datetime | None = None,
    retryable_codes: Iterable[str] = DEFAULT_RETRYABLE_CODES,
) -> ProviderError:
    """The contract error for a non-2xx response (callers decide first whether the status is a success)."""
    status = response.status_code
    code = error_code(response)
    label = f"{provider} HTTP {status}" + (f" ({code})" if code else "")
    if status == 429:
        return RetryableProviderError(f"{label}: rate limited", retry_after=_retry_after_from(response, now))
    if status >= 500 or status == 408:
        return RetryableProviderError(label, retry_after=_retry_after_from(response, now))
    if status == 403 and code in set(retryable_codes):
        return RetryableProviderError(f"{label}: rate limited", retry_after=_retry_after_from(response, now))
    return PermanentProviderError(label, code=code or str(status))


# Failures raised after the request bytes may already have reached the provider.
_AFTER_SEND = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError, httpx.WriteTimeout)


def error_from_exception(exc: Exception, provider: str, ambiguous_after_send: bool = False) -> ProviderError:
    """Transport failures. `ambiguous_after_send=True` for non-idempotent sends (no provider idempotency key):
    a read timeout or reset after the request went out may mean it was accepted, so the caller must look up
    before re-sending (AmbiguousSendError)."""
    if isinstance(exc, ProviderError):
        return exc
    kind = type(exc).__name__
    if ambiguous_after_send and isinstance(exc, _AFTER_SEND):
        return AmbiguousSendError(f"{provider}: {kind} after sending; look up before re-sending")
    if isinstance(exc, httpx.TransportError):
        return RetryableProviderError(f"{provider}: {kind}")
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return PermanentProviderError(f"{provider}: {kind}", code="invalid_url")
    return RetryableProviderError(f"{provider}: {kind}")


def check(response: httpx.Response, provider: str, ok: Iterable[int] = (), now: datetime | None = None
          ) -> httpx.Response:
    """Return the response when it is 2xx (or in `ok`), else raise the mapped contract error."""
    if 200 <= response.status_code < 300 or response.status_code in set(ok):
        return response
    raise error_from_response(response, provider, now)


class RateLimiter:
    """A token bucket shared by every client of one provider in this process (`RateLimiter.for_provider`): at most
    `rate` requests per `per` seconds, bursts up to `rate`. It spaces our own calls; the provider's 429 and
    Retry-After remain the authority."""

    _shared: dict[str, RateLimiter] = {}
    _shared_lock = threading.Lock()

    def __init__(self, rate: float, per: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0 or per <= 0:
            raise ValueError("a rate limit is a positive number of requests per positive seconds")
        self.capacity, self.fill = rate, rate / per
        self.tokens, self.clock, self.sleep = rate, clock, sleep
        self.stamp = clock()
        self._lock = threading.Lock()

    @classmethod
    def for_provider(cls, provider: str, rate: float, per: float) -> RateLimiter:
        with cls._shared_lock:
            if provider not in cls._shared:
                cls._shared[provider] = cls(rate, per)
            return cls._shared[provider]

    def acquire(self) -> float:
        """Wait for a request slot; the seconds waited."""
        with self._lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.fill)
            self.stamp = now
            wait = 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.fill
            self.tokens -= 1
        if wait > 0:
            self.sleep(wait)
        return wait


_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class JsonApi:
    """A small httpx JSON client: base URL configurable (tests point it at a fake), every failure mapped.

    Subclasses set `provider` and call `self.call(...)`. Pass `http` to share a client (or a MockTransport).

    The kit's outbound behaviour, set per provider by class attributes:
    - `rate_limit = (requests, seconds)`: a process-wide token bucket for the provider (None: none);
    - `idempotency_header`: the provider's idempotency header, sent with `idempotency_key=` (None: it has none,
      so a create must be looked up before a retry, see CONTRIBUTING.md);
    - `retry_wait_limit`: a 429/503 whose Retry-After is at most this many seconds is retried here (idempotent
      calls and keyed creates only, `max_retries` times); a longer wait is raised as RetryableProviderError with
      `retry_after`, so the activity's own retry policy waits instead of holding a worker slot.
    A permanent refusal (4xx other than 408/429) is PermanentProviderError and never retried.
    """

    provider = "provider"
    rate_limit: tuple[float, float] | None = None
    idempotency_header: str | None = None
    retry_wait_limit: float = 2.0
    max_retries: int = 2

    def __init__(self, base_url: str, headers: Mapping[str, str] | None = None, timeout: float = 10.0,
                 http: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._own = http is None
        self.http = http or httpx.Client(timeout=timeout)
        self.headers = dict(headers or {})

    def close(self) -> None:
        if self._own:
            self.http.close()

    def __enter__(self) -> JsonApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path  # next-page / delta links arrive as absolute URLs
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, json_body: Any = None, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, ok: Iterable[int] = (),
                ambiguous_after_send: bool = False, idempotency_key: str | None = None) -> httpx.Response:
        sent_headers = {**self.headers, **(headers or {})}
        if idempotency_key and self.idempotency_header:
            sent_headers[self.idempotency_header] = idempotency_key
        repeatable = method.upper() in _IDEMPOTENT or bool(idempotency_key and self.idempotency_header)
        limiter = RateLimiter.for_provider(self.provider, *self.rate_limit) if self.rate_limit else None
        attempt = 0
        while True:
            if limiter is not None:
                limiter.acquire()
            try:
                response = self.http.request(
                    method, self.url(path), json=json_body, params=dict(params) if params else None,
                    headers=sent_headers,
                )
            except httpx.HTTPError as exc:
                raise error_from_exception(exc, self.provider, ambiguous_after_send) from exc
            wait = parse_retry_after(response.headers.get("retry-after"))
            if (response.status_code in (429, 503) and repeatable and attempt < self.max_retries
                    and wait is not None and wait <= self.retry_wait_limit):
                attempt += 1
                time.sleep(wait)
                continue
            return check(response, self.provider, ok)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Like `request` but returns the decoded JSON body (None for an empty body)."""
        response = self.request(method, path, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise RetryableProviderError(f"{self.provider}: HTTP {response.status_code} with a non-JSON body") from exc
