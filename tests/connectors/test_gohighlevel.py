"""GoHighLevel specifics the shared kit does not cover: the signed body's own timestamp bounds replays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.contract import SignatureError
from connectors.gohighlevel.inbound import GoHighLevelInbound
from tests.connectors.cases_gohighlevel import PUBLIC_PEM, VECTOR_BODY, ghl_request

SIGNED_AT = datetime(2025, 1, 28, 14, 35, tzinfo=UTC)


def test_a_delivery_older_than_five_minutes_is_refused_even_with_a_good_signature() -> None:
    request = ghl_request(VECTOR_BODY, SIGNED_AT)
    GoHighLevelInbound(PUBLIC_PEM).verify(request, SIGNED_AT + timedelta(minutes=4))
    with pytest.raises(SignatureError):
        GoHighLevelInbound(PUBLIC_PEM).verify(request, SIGNED_AT + timedelta(minutes=6))


def test_a_key_that_is_not_ed25519_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError):
        GoHighLevelInbound("bm90IGEga2V5")
