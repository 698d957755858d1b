"""Translate connector errors into Temporal's retry language, once, for every activity."""

from __future__ import annotations

from datetime import timedelta

from temporalio.exceptions import ApplicationError

from connectors.contract import PermanentProviderError, RetryableProviderError


def to_application_error(exc: Exception) -> ApplicationError:
    if isinstance(exc, RetryableProviderError):
        delay = timedelta(seconds=exc.retry_after) if exc.retry_after else None
        return ApplicationError(str(exc), type="RetryableProviderError", next_retry_delay=delay)
    if isinstance(exc, PermanentProviderError):
        return ApplicationError(str(exc), exc.code, type="PermanentProviderError", non_retryable=True)
    return ApplicationError(f"{type(exc).__name__}: {exc}", type=type(exc).__name__)
