"""Zoho CRM notifications: the channel token and id echoed in the body (Zoho signs nothing), the notify_url query
token when present, and a meeting change asking for the zoho source's reconciliation. The body is Zoho's sample
notification (https://www.zoho.com/crm/developer/docs/api/v7/notifications/enable.html); the second is the same
shape for the Events module."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from connectors.contract import RawRequest, SignatureError
from connectors.zoho.inbound import ZohoInbound

TOKEN, CHANNEL = "TOKEN_FOR_VERIFICATION_OF_1000000068001", 1000000068001
SAMPLE = {"server_time": 1718117126473, "query_params": {}, "module": "Leads",
          "resource_uri": "https://www.zohoapis.com/crm/v2/Leads", "ids": ["5725767000003000064"],
          "affected_fields": [], "operation": "insert", "channel_id": "1000000068001", "token": TOKEN}
NOW = datetime(2026, 1, 6, 15, 30, tzinfo=UTC)


def request(body: dict[str, object], query: dict[str, str] | None = None) -> RawRequest:
    return RawRequest(method="POST", url="https://example.com/webhooks/zoho", headers={}, query=query or {},
                      body=json.dumps(body).encode())


def test_the_sample_notification_is_accepted_and_other_modules_are_unknown_types() -> None:
    inbound = ZohoInbound(TOKEN, CHANNEL)
    req = request(SAMPLE)
    inbound.verify(req, NOW)
    result = inbound.parse(req)
    assert result.unknown_types == ["Leads.insert"] and not result.sync_sources and not result.events


def test_a_meeting_change_asks_for_reconciliation_and_keeps_its_dedupe_key() -> None:
    body = {**SAMPLE, "module": "Events", "operation": "update", "query_params": {"token": TOKEN}}
    first, second = ZohoInbound(TOKEN, CHANNEL), ZohoInbound(TOKEN, CHANNEL)
    req = request(body, {"token": TOKEN})
    first.verify(req, NOW)
    second.verify(req, NOW)
    assert first.parse(req).sync_sources == ["zoho"]
    assert first.parse(req).dedupe_key == second.parse(req).dedupe_key
    with pytest.raises(SignatureError):
        first.verify(req, NOW)  # the same delivery again


@pytest.mark.parametrize("body, query", [
    ({**SAMPLE, "token": "forged"}, None), ({**SAMPLE, "token": TOKEN[:20]}, None),
    ({k: v for k, v in SAMPLE.items() if k != "token"}, None), ({**SAMPLE, "channel_id": "42"}, None),
    (SAMPLE, {"token": "forged"}), ({**SAMPLE, "token": 1}, None)])
def test_a_wrong_missing_or_cut_token_or_another_channel_is_refused(body: dict[str, object],
                                                                     query: dict[str, str] | None) -> None:
    with pytest.raises(SignatureError):
        ZohoInbound(TOKEN, CHANNEL).verify(request(body, query), NOW)


def test_an_unreadable_body_is_refused_as_unauthenticated() -> None:
    with pytest.raises(SignatureError):
        ZohoInbound(TOKEN, CHANNEL).verify(RawRequest(method="POST", url="https://example.com/webhooks/zoho",
                                                      headers={}, body=b"{not json"), NOW)


def test_a_token_longer_than_zoho_accepts_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError):
        ZohoInbound("x" * 51, CHANNEL)
