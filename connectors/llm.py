"""Optional model-backed reply classifier behind the same interface as the rules.

Speaks the OpenAI-compatible `/v1/chat/completions` contract over httpx, so the base URL can point at a
private model server. The model is a second opinion only:
- it is consulted only when the rules are unsure (confidence below the threshold, `other`, or flagged for
  review), and never when the rules found an opt-out: a revocation cannot be argued away;
- its answer must be JSON with a known intent and, for `pick_slot`, an index into the offered slots; anything
  else (unknown intent, out-of-range or non-integer slot, malformed JSON, HTTP error, timeout) is refused and
  the rule result is kept, flagged for review;
- a model pick that resolves an ambiguity the rules found ("yes" to three slots) is still sent to review:
  ambiguity never books on a guess.

The reply text is sent to the model server (no names, phones or emails are added); nothing is logged but the
error class.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import structlog
from pydantic import BaseModel, SecretStr

from domain.models import ReplyIntent, ReplyUnderstanding
from policies.replies import ReplyInput, to_local, understand
from policies.zones import UTC_ZONE, zone_of

log = structlog.get_logger(__name__)

MAX_MODEL_CONFIDENCE = 0.9  # the model never speaks with more certainty than a clear rule
MAX_TEXT_CHARS = 1000

SYSTEM_PROMPT = (
    "You classify a customer's SMS/email reply to a message offering new appointment times after a missed "
    "appointment. Answer with one JSON object and nothing else: "
    '{"intent": one of [INTENTS], "slot_index": integer index into the offered slots or null, '
    '"confidence": number between 0 and 1, "reason": short explanation}. '
    "Use pick_slot with a slot_index only when the reply clearly names exactly one offered slot. "
    "Any wish to stop receiving messages is opt_out. Never invent slots."
)


class ModelRefused(Exception):
    """The model's answer broke the contract; the caller keeps the rule result."""


class ModelSettings(BaseModel):
    base_url: str
    model: str
    api_key: SecretStr | None = None
    timeout_seconds: float = 5.0


class ReplyModelClient:
    """Call shape: `client(inp, rule_result) -> ReplyUnderstanding` (also `refine`, as the activity calls it)."""

    def __init__(self, base_url: str, model: str, api_key: str | SecretStr | None = None,
                 timeout_seconds: float = 5.0, http: httpx.Client | None = None) -> None:
        self.url = _completions_url(base_url)
        self.model = model
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._owns_http = http is None
        self.http = http or httpx.Client(timeout=httpx.Timeout(timeout_seconds), headers=headers)
        if http is not None and key:
            self.http.headers.update(headers)

    @classmethod
    def from_settings(cls, settings: ModelSettings) -> ReplyModelClient:
        return cls(settings.base_url, settings.model, settings.api_key, settings.timeout_seconds)


    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> ReplyModelClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the classifier

    def __call__(self, inp: ReplyInput, rule: ReplyUnderstanding) -> ReplyUnderstanding:
        if not should_consult(inp, rule):
            return rule
        try:
            answer = self._ask(inp)
            return _accept(answer, inp, rule)
        except (httpx.HTTPError, httpx.InvalidURL, ModelRefused, ValueError) as exc:
            log.warning("reply_model_unusable", error=type(exc).__name__)
            return rule.model_copy(update={
                "needs_review": True, "reason": f"{rule.reason}; model not used ({_why(exc)})"})

    refine = __call__

    def _ask(self, inp: ReplyInput) -> dict[str, Any]:
        body = {
            "model": self.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT.replace("INTENTS", ", ".join(ReplyIntent))},
                {"role": "user", "content": _prompt(inp)},
            ],
        }
        response = self.http.post(self.url, json=body)
        response.raise_for_status()
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError, json.JSONDecodeError) as exc:
            raise ModelRefused("not a chat-completions response") from exc
        if not isinstance(content, str):
            raise ModelRefused("no text content")
        content = re.sub(r"^\s*```(?:json)?|```\s*$", "", content.strip())
        try:
            answer = json.loads(content)
        except json.JSONDecodeError as exc:
            raise ModelRefused("answer is not JSON") from exc
        if not isinstance(answer, dict):
            raise ModelRefused("answer is not a JSON object")
        return answer


def should_consult(inp: ReplyInput, rule: ReplyUnderstanding) -> bool:
    """Only when the rules are unsure, and never against an opt-out."""
    if rule.intent == ReplyIntent.opt_out:
        return False
    return rule.intent == ReplyIntent.other or rule.confidence < inp.review_below or rule.needs_review


def classify_reply(inp: ReplyInput, model_client: ReplyModelClient | None) -> ReplyUnderstanding:
    """Rules first; the model only where they are unsure."""
    rule = understand(inp)
    if model_client is None:
        return rule
    return model_client(inp, rule)


def _accept(answer: dict[str, Any], inp: ReplyInput, rule: ReplyUnderstanding) -> ReplyUnderstanding:
    try:
        intent = ReplyIntent(str(answer.get("intent")))
    except ValueError as exc:
        raise ModelRefused("unknown intent") from exc
    slot = answer.get("slot_index")
    if slot is not None:
        if isinstance(slot, bool) or not isinstance(slot, int) or not 0 <= slot < len(inp.offered):
            raise ModelRefused("slot index not among the offered slots")
        if intent != ReplyIntent.pick_slot:
            raise ModelRefused("slot index without pick_slot")
    confidence = answer.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 <= confidence <= 1:
        confidence = 0.5
    confidence = min(float(confidence), MAX_MODEL_CONFIDENCE)
    # The rules saw several slots fit ("yes" to three): a model's pick is a guess until a human confirms.
    rules_saw_ambiguity = rule.intent == ReplyIntent.pick_slot and rule.slot_index is None
    review = (confidence < inp.review_below or (intent == ReplyIntent.pick_slot and slot is None)
              or (intent == ReplyIntent.pick_slot and rules_saw_ambiguity) or intent == ReplyIntent.dispute)
    return ReplyUnderstanding(intent=intent, slot_index=slot, confidence=round(confidence, 2), needs_review=review,
                              reason=f"model: {_clean(answer.get('reason'))} (rules: {rule.intent.value})",
                              clarify_opt_out=rule.clarify_opt_out)


def _prompt(inp: ReplyInput) -> str:
    zone = zone_of(inp.timezone) or UTC_ZONE  # the same local-time view the rules use
    lines = [f"Now: {to_local(inp.now, zone):%A %Y-%m-%d %H:%M} ({inp.timezone[:64]})", "Offered slots:"]
    lines += [f"  {i}: {to_local(s, zone):%A %Y-%m-%d %H:%M}" for i, s in enumerate(inp.offered)] or ["  (none)"]
    lines.append(f"Reply: {json.dumps(inp.text[:MAX_TEXT_CHARS], ensure_ascii=False)}")
    return "\n".join(lines)


def _clean(reason: Any) -> str:
    text = reason if isinstance(reason, str) else ""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text)[:200].strip() or "no reason given"


def _why(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, ModelRefused):
        return f"answer refused: {exc}"
    return type(exc).__name__


def _completions_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    if not base.endswith("/v1"):
        base += "/v1"
    return base + "/chat/completions"
