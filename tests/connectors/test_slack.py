"""Slack: review requests with Block Kit buttons against the fake Web API, and signed interactivity payloads
(known-good vector, forged / truncated / stale / future / replayed) turned into ReviewActions."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from pydantic import SecretStr

from connectors.contract import (
    PermanentProviderError,
    RawRequest,
    RetryableProviderError,
    ReviewNotifier,
    SignatureError,
)
from connectors.inbound import PayloadError
from connectors.slack.interactivity import SlackInteractivity, slack_signature
from connectors.slack.notifier import SlackReviewNotifier
from connectors.slack.settings import SlackSettings
from tests.fakes.slack_fake import BOT_TOKEN, CHANNEL, SlackFake

SECRET = "slack_signing_secret"
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TS = "1767603600"
VECTOR_BODY = b"payload=%7B%22type%22%3A%22block_actions%22%7D"
VECTOR_SIGNATURE = "v0=6555ed999995c8c67250c9a68284eb9ba5221196ea307252ae940d5fa46008c5"


def _hook() -> SlackInteractivity:
    return SlackInteractivity(SlackSettings(signing_secret=SecretStr(SECRET)))


def _request(body: bytes, signature: str | None = None, timestamp: str = TS) -> RawRequest:
    headers = {"content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": timestamp,
               "x-slack-signature": signature if signature is not None else slack_signature(SECRET, timestamp, body)}
    return RawRequest(method="POST", url="https://noshow.example.com/webhooks/slack", headers=headers, body=body)


def _click(action_id: str = "review_approve", value: str | None = None, user_id: str = "U123",
           action_ts: str = "1767603660.123456") -> bytes:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": "frontdesk", "team_id": "T123"},
        "api_app_id": "A123",
        "team": {"id": "T123", "domain": "acme"},
        "container": {"type": "message", "message_ts": "1767603600.000100", "channel_id": CHANNEL,
                      "is_ephemeral": False},
        "channel": {"id": CHANNEL, "name": "no-shows"},
        "trigger_id": "123.456.abc",
        "response_url": "https://hooks.slack.com/actions/T123/456/xyz",
        "actions": [{"type": "button", "action_id": action_id, "block_id": "review:rev-1",
                     "value": value or json.dumps({"case_id": "case-42", "review_id": "rev-1"}),
                     "action_ts": action_ts}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


# ---------------------------------------------------------------- signatures


def test_known_good_vector_is_accepted() -> None:
    assert slack_signature(SECRET, TS, VECTOR_BODY) == VECTOR_SIGNATURE
    _hook().verify(_request(VECTOR_BODY, VECTOR_SIGNATURE), NOW)


@pytest.mark.parametrize("case", ["forged", "truncated", "tampered", "wrong_secret", "no_prefix", "missing",
                                  "stale", "future", "bad_timestamp"])
def test_bad_signatures_are_rejected(case: str) -> None:
    request = _request(VECTOR_BODY, VECTOR_SIGNATURE)
    now = NOW
    if case == "forged":
        request = _request(VECTOR_BODY, "v0=" + "0" * 64)
    elif case == "truncated":
        request = _request(VECTOR_BODY, VECTOR_SIGNATURE[:-2])
    elif case == "tampered":
        request = _request(VECTOR_BODY.replace(b"block_actions", b"view_submission"), VECTOR_SIGNATURE)
    elif case == "wrong_secret":
        request = _request(VECTOR_BODY, slack_signature("other", TS, VECTOR_BODY))
    elif case == "no_prefix":
        request = _request(VECTOR_BODY, VECTOR_SIGNATURE.removeprefix("v0="))
    elif case == "missing":
        request = RawRequest(method="POST", url=request.url, headers={}, body=VECTOR_BODY)
    elif case == "stale":
        now = NOW + timedelta(seconds=301)
    elif case == "future":
        now = NOW - timedelta(seconds=301)
    elif case == "bad_timestamp":
        request = _request(VECTOR_BODY, VECTOR_SIGNATURE, timestamp="soon")
    with pytest.raises(SignatureError):
        _hook().verify(request, now)


def test_inside_the_window_passes_and_a_replay_does_not() -> None:
    hook = _hook()
    request = _request(_click())
    hook.verify(request, NOW + timedelta(seconds=299))
    with pytest.raises(SignatureError):
        hook.verify(request, NOW + timedelta(seconds=299))


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(("action_id", "decision"), [("review_approve", "approve"), ("review_reject", "reject"),
                                                      ("review_edit", "edit")])
def test_button_clicks_become_review_actions(action_id: str, decision: str) -> None:
    hook = _hook()
    request = _request(_click(action_id))
    hook.verify(request, NOW)
    result = hook.parse(request)
    [action] = result.review_actions
    assert (action.case_id, action.decision, action.review_id) == ("case-42", decision, "rev-1")
    assert action.reviewer == "slack:U123 (frontdesk)"
    assert result.dedupe_key == f"slack:1767603600.000100:{action_id}:1767603660.123456:U123"
    assert result.response is None  # a plain 200 acknowledges


def test_verify_and_parse_are_fast_enough_to_ack_within_3_seconds() -> None:
    hook = _hook()
    requests = [_request(_click(action_ts=f"1767603660.{i:06d}")) for i in range(200)]
    started = time.perf_counter()
    for request in requests:
        hook.verify(request, NOW)
        hook.parse(request)
    assert (time.perf_counter() - started) / len(requests) < 0.05


def test_foreign_actions_and_payloads() -> None:
    hook = _hook()
    other = hook.parse(_request(_click("someone_elses_button")))
    assert other.review_actions == [] and other.unknown_types == ["slack:action:someone_elses_button"]
    modal = urlencode({"payload": json.dumps({"type": "view_submission", "user": {"id": "U1"}})}).encode()
    assert hook.parse(_request(modal)).unknown_types == ["slack:view_submission"]
    with pytest.raises(PayloadError):
        hook.parse(_request(b"text=hello"))
    with pytest.raises(PayloadError):
        hook.parse(_request(_click(value="not json")))


# ---------------------------------------------------------------- review requests


@pytest.fixture
def fake() -> Iterator[SlackFake]:
    with SlackFake() as server:
        yield server  # type: ignore[misc]


def _notifier(fake: SlackFake, token: str = BOT_TOKEN, channel: str = CHANNEL) -> SlackReviewNotifier:
    return SlackReviewNotifier(SlackSettings(
        bot_token=SecretStr(token), review_channel=channel, api_base_url=fake.api_url, timeout_seconds=0.5,
        review_url_template="https://noshow.example.com/reviews/{case_id}",
    ))


def test_review_request_posts_buttons_without_pii_once(fake: SlackFake) -> None:
    notifier = _notifier(fake)
    assert isinstance(notifier, ReviewNotifier)
    notifier.request_review("case-42", "Jane Doe +15551234567 missed Intro call", ["low confidence", "VIP"],
                            "rev-1")
    [post] = fake.posts
    assert post["channel"] == CHANNEL
    dumped = json.dumps(post)
    assert "Jane" not in dumped and "+1555" not in dumped  # the summary is never posted
    section, actions = post["blocks"]
    assert "case-42" in section["text"]["text"] and "low confidence" in section["text"]["text"]
    assert "https://noshow.example.com/reviews/case-42" in section["text"]["text"]
    assert [e["action_id"] for e in actions["elements"]] == ["review_approve", "review_reject", "review_edit"]
    notifier.request_review("case-42", "again", ["low confidence"], "rev-1")  # a retried activity
    assert len(fake.posts) == 1
    assert fake.calls("POST", "/api/chat.postMessage")[0].headers["authorization"] == f"Bearer {BOT_TOKEN}"


def test_posted_button_round_trips_into_a_review_action(fake: SlackFake) -> None:
    _notifier(fake).request_review("case-42", "", ["r"], "rev-9")
    button = fake.posts[0]["blocks"][1]["elements"][1]
    [action] = _hook().parse(_request(_click(button["action_id"], button["value"]))).review_actions
    assert (action.case_id, action.decision, action.review_id) == ("case-42", "reject", "rev-9")


def test_429_is_retryable_with_retry_after(fake: SlackFake) -> None:
    fake.rate_limit_next("7")
    with pytest.raises(RetryableProviderError) as info:
        _notifier(fake).request_review("case-42", "", ["r"], "rev-1")
    assert info.value.retry_after == 7
    assert fake.posts == []


def test_500_and_timeouts_are_retryable(fake: SlackFake) -> None:
    notifier = _notifier(fake)
    fake.server_error_next()
    with pytest.raises(RetryableProviderError):
        notifier.request_review("case-42", "", ["r"], "rev-1")
    fake.hang_next()
    with pytest.raises(RetryableProviderError):
        notifier.request_review("case-42", "", ["r"], "rev-1")
    notifier.request_review("case-42", "", ["r"], "rev-1")
    assert len(fake.posts) == 1


@pytest.mark.parametrize(("token", "channel", "code"), [(BOT_TOKEN, "C_UNKNOWN", "channel_not_found"),
                                                        ("xoxb-wrong", CHANNEL, "invalid_auth")])
def test_ok_false_errors_are_permanent(fake: SlackFake, token: str, channel: str, code: str) -> None:
    with pytest.raises(PermanentProviderError) as info:
        _notifier(fake, token, channel).request_review("case-42", "", ["r"], "rev-1")
    assert info.value.code == code


def test_shared_httpx_client(fake: SlackFake) -> None:
    with httpx.Client(timeout=2) as client:
        notifier = SlackReviewNotifier(SlackSettings(bot_token=SecretStr(BOT_TOKEN), review_channel=CHANNEL,
                                                     api_base_url=fake.api_url), http=client)
        notifier.request_review("case-1", "", [], "rev-2")
        notifier.close()  # leaves a shared client open
        assert not client.is_closed
    assert "(no reason given)" in fake.posts[0]["blocks"][0]["text"]["text"]
