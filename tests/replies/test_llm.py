"""The optional model classifier against a local fake OpenAI-compatible server."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from connectors.llm import ReplyModelClient, classify_reply, should_consult
from domain.models import ReplyIntent
from policies.replies import ReplyInput, understand

NOW = datetime.fromisoformat("2025-03-03T09:00:00-05:00")
THREE = [datetime.fromisoformat(s) for s in
         ("2025-03-04T15:00:00-05:00", "2025-03-06T10:00:00-05:00", "2025-03-07T16:30:00-05:00")]

Answer = Callable[[dict[str, Any]], tuple[int, Any]]


class FakeModelServer:
    """Speaks POST /v1/chat/completions; `answer` decides the reply; `release` frees a hung request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.answer: Answer = lambda body: (200, {"intent": "other"})
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                fake.requests.append(body)
                fake.headers.append(dict(self.headers))
                if self.path != "/v1/chat/completions":
                    self.send_response(404)
                    self.end_headers()
                    return
                status, content = fake.answer(body)
                if status == 0:  # hang until the test releases us: the client must time out first
                    fake.release.wait(10)
                    return
                payload = {"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {
                    "role": "assistant",
                    "content": content if isinstance(content, str) else json.dumps(content)}}]}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.stopped = False
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def fake() -> Iterator[FakeModelServer]:
    server = FakeModelServer()
    yield server
    server.stop()


@pytest.fixture
def client(fake: FakeModelServer) -> Iterator[ReplyModelClient]:
    with ReplyModelClient(fake.url, "tiny-test-model", api_key="sk-test", timeout_seconds=2.0) as c:
        yield c


def inp(text: str, offered: list[datetime] | None = None) -> ReplyInput:
    return ReplyInput(text=text, offered=THREE if offered is None else offered, now=NOW,
                      timezone="America/New_York")


def test_unsure_reply_is_resolved_by_the_model(fake: FakeModelServer, client: ReplyModelClient) -> None:
    fake.answer = lambda body: (200, {"intent": "pick_slot", "slot_index": 2, "confidence": 0.88,
                                      "reason": "wants the late Friday one"})
    result = classify_reply(inp("the one after my shift ends"), client)
    assert (result.intent, result.slot_index, result.needs_review) == (ReplyIntent.pick_slot, 2, False)
    assert result.reason.startswith("model:")
    body = fake.requests[0]
    assert body["model"] == "tiny-test-model" and body["response_format"] == {"type": "json_object"}
    user = body["messages"][-1]["content"]
    assert "2: Friday 2025-03-07 16:30" in user  # slots are shown in the recipient's zone
    assert fake.headers[0]["Authorization"] == "Bearer sk-test"


def test_sure_rules_never_call_the_model(fake: FakeModelServer, client: ReplyModelClient) -> None:
    assert classify_reply(inp("2"), client).slot_index == 1
    assert classify_reply(inp("running late"), client).intent == ReplyIntent.running_late
    assert fake.requests == []


@pytest.mark.parametrize("text", ["STOP", "Stop. Who is this", "no me manden mas mensajes", "stpo"])
def test_model_can_never_override_an_opt_out(fake: FakeModelServer, client: ReplyModelClient, text: str) -> None:
    fake.answer = lambda body: (200, {"intent": "pick_slot", "slot_index": 0, "confidence": 0.99})
    rule = understand(inp(text))
    assert rule.intent == ReplyIntent.opt_out
    assert not should_consult(inp(text), rule)
    assert client(inp(text), rule).intent == ReplyIntent.opt_out  # even when called directly
    assert classify_reply(inp(text), client).intent == ReplyIntent.opt_out
    assert fake.requests == []


@pytest.mark.parametrize("answer", [
    {"intent": "book_everything", "slot_index": 0, "confidence": 0.99},  # unknown intent
    {"intent": "pick_slot", "slot_index": 7, "confidence": 0.99},  # out of range
    {"intent": "pick_slot", "slot_index": -1, "confidence": 0.99},
    {"intent": "pick_slot", "slot_index": "1", "confidence": 0.99},  # not an integer
    {"intent": "pick_slot", "slot_index": True, "confidence": 0.99},
    {"intent": "reschedule", "slot_index": 1, "confidence": 0.99},  # slot without pick_slot
    ["pick_slot", 1],  # not an object
    "Sure! I think they want slot 2.",  # not JSON
])
def test_malicious_or_malformed_answers_are_refused(fake: FakeModelServer, client: ReplyModelClient,
                                                    answer: Any) -> None:
    fake.answer = lambda body: (200, answer)
    rule = understand(inp("purple monkey dishwasher"))
    result = classify_reply(inp("purple monkey dishwasher"), client)
    assert len(fake.requests) == 1
    assert result.intent == rule.intent and result.slot_index == rule.slot_index
    assert result.needs_review and "model not used" in result.reason


def test_model_pick_on_an_ambiguity_still_goes_to_review(fake: FakeModelServer, client: ReplyModelClient) -> None:
    fake.answer = lambda body: (200, {"intent": "pick_slot", "slot_index": 0, "confidence": 0.9})
    result = classify_reply(inp("yes"), client)  # "yes" to three slots
    assert result.slot_index == 0 and result.needs_review


def test_model_may_find_an_opt_out_the_rules_missed(fake: FakeModelServer, client: ReplyModelClient) -> None:
    fake.answer = lambda body: (200, '```json\n{"intent": "opt_out", "confidence": 0.8, "reason": "hostile"}\n```')
    assert classify_reply(inp("purple monkey dishwasher"), client).intent == ReplyIntent.opt_out


def test_low_model_confidence_needs_review(fake: FakeModelServer, client: ReplyModelClient) -> None:
    fake.answer = lambda body: (200, {"intent": "question", "confidence": 0.4})
    result = classify_reply(inp("purple monkey dishwasher"), client)
    assert result.intent == ReplyIntent.question and result.needs_review


def test_timeout_keeps_the_rule_result(fake: FakeModelServer) -> None:
    fake.answer = lambda body: (0, None)
    with ReplyModelClient(fake.url + "/v1", "m", timeout_seconds=0.2) as slow:
        result = classify_reply(inp("purple monkey dishwasher"), slow)
    assert result.intent == ReplyIntent.other and result.needs_review
    assert "timeout" in result.reason


def test_http_error_keeps_the_rule_result(fake: FakeModelServer, client: ReplyModelClient) -> None:
    fake.answer = lambda body: (500, {"intent": "pick_slot", "slot_index": 0})
    result = classify_reply(inp("purple monkey dishwasher"), client)
    assert result.intent == ReplyIntent.other and "HTTP 500" in result.reason


def test_unreachable_server_keeps_the_rule_result(fake: FakeModelServer) -> None:
    url = fake.url
    fake.stop()
    with ReplyModelClient(url, "m", timeout_seconds=1.0) as gone:
        result = classify_reply(inp("purple monkey dishwasher"), gone)
    assert result.intent == ReplyIntent.other and result.needs_review


def test_no_client_means_rules_only() -> None:
    assert classify_reply(inp("purple monkey dishwasher"), None) == understand(inp("purple monkey dishwasher"))


def test_the_model_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.dependencies import reply_model
    from workers.settings import Settings

    monkeypatch.delenv("NOSHOW_REPLY_MODEL_URL", raising=False)
    assert reply_model(Settings()) is None
    monkeypatch.setenv("NOSHOW_REPLY_MODEL_URL", "http://127.0.0.1:9/v1/")
    monkeypatch.setenv("NOSHOW_REPLY_MODEL_NAME", "llama")
    c = reply_model(Settings())
    assert c is not None and c.url == "http://127.0.0.1:9/v1/chat/completions" and c.model == "llama"
    c.close()
