"""Load the labelled reply corpus and score a classifier on it (shared by the tests and
scripts/reply_accuracy.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

from domain.models import ReplyIntent, ReplyUnderstanding
from policies.replies import ReplyInput

CORPUS = Path(__file__).with_name("corpus.yaml")
MIN_ACCURACY = 0.90  # intent and slot both right; opt-out recall and "ambiguity never books" are absolute


@dataclass(frozen=True)
class Item:
    n: int
    text: str
    inp: ReplyInput
    intent: ReplyIntent
    slot: int | None
    ambiguous: bool
    clarify: bool = False

    @property
    def id(self) -> str:
        return f"{self.n:03d}-{self.intent.value}"


def load(path: Path = CORPUS) -> list[Item]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    sets = data["sets"]
    items = []
    for n, raw in enumerate(data["items"], start=1):
        base = sets[raw["set"]]
        inp = ReplyInput(text=raw["text"], offered=[datetime.fromisoformat(s) for s in base["offered"]],
                         now=datetime.fromisoformat(base["now"]), timezone=base["tz"],
                         opted_out=raw.get("opted_out", False))
        items.append(Item(n, raw["text"], inp, ReplyIntent(raw["intent"]), raw.get("slot"),
                          raw.get("ambiguous", False), raw.get("clarify", False)))
    return items


def is_booking(result: ReplyUnderstanding) -> bool:
    """What the workflow books on: a pick with a slot and no review."""
    return result.intent == ReplyIntent.pick_slot and result.slot_index is not None and not result.needs_review


def correct(item: Item, result: ReplyUnderstanding) -> bool:
    return result.intent == item.intent and result.slot_index == item.slot


@dataclass
class Score:
    total: int = 0
    right: int = 0
    per_intent: dict[str, dict[str, int]] = field(default_factory=dict)  # tp / fp / fn
    ambiguous_bookings: int = 0
    wrong_bookings: int = 0
    false_opt_outs: int = 0  # replies that were not a revocation, taken as one
    clarify_right: int = 0  # the one-time opt-out clarification asked exactly when it should be
    misses: list[tuple[Item, ReplyUnderstanding]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 0.0

    def recall(self, intent: ReplyIntent) -> float:
        c = self.per_intent.get(intent.value, {})
        return c.get("tp", 0) / ((c.get("tp", 0) + c.get("fn", 0)) or 1)

    def precision(self, intent: ReplyIntent) -> float:
        c = self.per_intent.get(intent.value, {})
        return c.get("tp", 0) / ((c.get("tp", 0) + c.get("fp", 0)) or 1)


def score(items: list[Item], classify: Callable[[ReplyInput], ReplyUnderstanding]) -> Score:
    s = Score()
    for intent in ReplyIntent:
        s.per_intent[intent.value] = {"tp": 0, "fp": 0, "fn": 0}
    for item in items:
        result = classify(item.inp)
        s.total += 1
        if correct(item, result):
            s.right += 1
        else:
            s.misses.append((item, result))
        if result.intent == item.intent:
            s.per_intent[item.intent.value]["tp"] += 1
        else:
            s.per_intent[item.intent.value]["fn"] += 1
            s.per_intent[result.intent.value]["fp"] += 1
        if result.intent == ReplyIntent.opt_out and item.intent != ReplyIntent.opt_out:
            s.false_opt_outs += 1
        if result.clarify_opt_out == item.clarify:
            s.clarify_right += 1
        if is_booking(result):
            if item.ambiguous:
                s.ambiguous_bookings += 1
            elif result.slot_index != item.slot:
                s.wrong_bookings += 1
    return s
