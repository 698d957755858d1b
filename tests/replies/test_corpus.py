"""The labelled corpus: opt-out recall 100 %, ambiguity never books, no wrong slot, accuracy >= minimum."""

from __future__ import annotations

import pytest

from domain.models import ReplyIntent
from policies.replies import understand
from tests.replies.corpus import MIN_ACCURACY, Item, is_booking, load, score

ITEMS = load()
OPT_OUTS = [i for i in ITEMS if i.intent == ReplyIntent.opt_out]
AMBIGUOUS = [i for i in ITEMS if i.ambiguous]


def test_corpus_is_large_and_varied() -> None:
    assert len(ITEMS) >= 300
    assert len({i.inp.timezone for i in ITEMS}) >= 3
    assert {len(i.inp.offered) for i in ITEMS} >= {1, 2, 3, 5}
    assert len({s.year for i in ITEMS for s in i.inp.offered}) >= 2  # a year boundary
    assert any(len({s.utcoffset() for s in [i.inp.now, *i.inp.offered]}) > 1 for i in ITEMS)  # a DST change
    assert sum(1 for i in ITEMS if i.clarify) >= 5
    assert len(OPT_OUTS) >= 60
    assert len(AMBIGUOUS) >= 15
    assert {i.intent for i in ITEMS} == set(ReplyIntent)
    assert sum(1 for i in ITEMS if i.inp.timezone == "America/Mexico_City") >= 20  # Spanish set


@pytest.mark.parametrize("item", OPT_OUTS, ids=lambda i: i.id)
def test_every_opt_out_is_caught(item: Item) -> None:
    assert understand(item.inp).intent == ReplyIntent.opt_out


@pytest.mark.parametrize("item", AMBIGUOUS, ids=lambda i: i.id)
def test_ambiguity_never_books(item: Item) -> None:
    result = understand(item.inp)
    assert result.slot_index is None
    assert result.needs_review
    assert not is_booking(result)


@pytest.mark.parametrize("item", ITEMS, ids=lambda i: i.id)
def test_never_books_a_slot_the_customer_did_not_name(item: Item) -> None:
    result = understand(item.inp)
    if is_booking(result):
        assert item.intent == ReplyIntent.pick_slot and result.slot_index == item.slot


def test_overall_accuracy() -> None:
    s = score(ITEMS, understand)
    misses = [f"{item.text!r} -> {r.intent.value}/{r.slot_index}" for item, r in s.misses]
    assert s.accuracy >= MIN_ACCURACY, misses
    assert s.recall(ReplyIntent.opt_out) == 1.0
    assert s.ambiguous_bookings == 0 and s.wrong_bookings == 0
    assert s.false_opt_outs == 0


def test_reply_accuracy_script_meets_the_thresholds() -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, str(root / "scripts" / "reply_accuracy.py")], capture_output=True,
                         text=True, cwd=root, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "opt-out recall: 100.0%" in run.stdout
    assert "false opt-outs: 0" in run.stdout and "wrong-slot bookings: 0" in run.stdout
