"""Load the labelled template corpus and score the guardrail linter on it (shared by the tests and
scripts/template_accuracy.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from domain.models import Channel
from policies.messages import LintResult, lint, sample_variables

CORPUS = Path(__file__).with_name("corpus.yaml")
# codes about length and encoding are measured on the rendered text; the corpus judges words
_FORM_CODES = frozenset({"too_long", "ucs2_avoidable"})


@dataclass(frozen=True)
class Item:
    n: int
    text: str
    channel: Channel
    vertical: str
    first: bool
    expect: frozenset[str]

    @property
    def language(self) -> str:
        return "es" if any(w in self.text.lower() for w in ("hola", "responda", "usted", "su cita")) else "en"


def load(path: Path = CORPUS) -> list[Item]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Item(n, raw["text"], Channel(raw.get("channel", "sms")), raw.get("vertical", "general"),
                 bool(raw.get("first", False)), frozenset(raw.get("expect", [])))
            for n, raw in enumerate(data["items"], start=1)]


def check(item: Item) -> LintResult:
    samples = sample_variables("es" if item.language == "es" else "en")
    try:
        measured = item.text.format_map({k: samples.get(k, "xxxxxxxx") for k in samples} | _Missing())
    except (KeyError, ValueError, IndexError):
        measured = item.text
    return lint(item.text, item.channel, vertical=item.vertical, first_message=item.first, measure=measured)


class _Missing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "xxxxxxxx"


@dataclass
class Score:
    total: int = 0
    right: int = 0
    good: int = 0
    bad: int = 0
    false_flags: int = 0  # good templates the linter refused
    missed: int = 0  # expected findings the linter did not raise
    per_code: dict[str, dict[str, int]] = field(default_factory=dict)  # tp / fn / fp
    misses: list[tuple[Item, list[str]]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 0.0


def score(items: list[Item]) -> Score:
    s = Score()
    for item in items:
        found = {p.code for p in check(item).problems} - _FORM_CODES
        s.total += 1
        if item.expect:
            s.bad += 1
        else:
            s.good += 1
        for code in item.expect | found:
            c = s.per_code.setdefault(code, {"tp": 0, "fn": 0, "fp": 0})
            if code in item.expect and code in found:
                c["tp"] += 1
            elif code in item.expect:
                c["fn"] += 1
                s.missed += 1
            else:
                c["fp"] += 1
        if not item.expect and found:
            s.false_flags += 1
        if found == set(item.expect):
            s.right += 1
        else:
            s.misses.append((item, sorted(found)))
    return s
