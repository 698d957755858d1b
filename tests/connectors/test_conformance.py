"""Every connector through the conformance kit (tests/connectors/kit.py)."""

from __future__ import annotations

import pytest

from tests.connectors import kit

INBOUND = kit.all_inbound_cases()
OUTBOUND = kit.all_outbound_cases()
inbound = pytest.mark.parametrize("case", INBOUND, ids=[c.name for c in INBOUND])
outbound = pytest.mark.parametrize("case", OUTBOUND, ids=[c.name for c in OUTBOUND])


@inbound
def test_fixtures_parse_into_canonical_events(case: kit.InboundCase) -> None:
    kit.check_fixtures(case)


@inbound
def test_documented_test_vector_is_accepted(case: kit.InboundCase) -> None:
    kit.check_vector(case)


@inbound
def test_forged_request_is_rejected(case: kit.InboundCase) -> None:
    kit.check_rejects_forged(case)


@inbound
def test_truncated_or_missing_signature_is_rejected(case: kit.InboundCase) -> None:
    kit.check_rejects_truncated(case)


@inbound
def test_stale_or_future_request_is_rejected(case: kit.InboundCase) -> None:
    kit.check_rejects_stale(case)


@inbound
def test_replayed_request_is_rejected(case: kit.InboundCase) -> None:
    kit.check_rejects_replay(case)


@inbound
def test_dedupe_key_is_stable_across_retries(case: kit.InboundCase) -> None:
    kit.check_dedupe_stable(case)


@outbound
def test_outbound_call_hits_the_fake(case: kit.OutboundCase) -> None:
    kit.check_outbound_success(case)


@outbound
def test_rate_limit_maps_to_retry_after(case: kit.OutboundCase) -> None:
    kit.check_outbound_rate_limit(case)


@outbound
def test_server_errors_timeouts_and_resets_are_retryable(case: kit.OutboundCase) -> None:
    kit.check_outbound_server_errors(case)


@outbound
def test_client_errors_are_permanent_with_provider_code(case: kit.OutboundCase) -> None:
    kit.check_outbound_client_errors(case)
