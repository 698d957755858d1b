"""The labelled template corpus: no good template refused, no expected finding missed, both languages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.templates.corpus import load, score

ROOT = Path(__file__).resolve().parents[2]


def test_corpus_is_large_and_in_both_languages() -> None:
    items = load()
    assert len(items) >= 100
    assert sum(1 for i in items if i.language == "es") >= 20
    assert sum(1 for i in items if not i.expect) >= 40 and sum(1 for i in items if i.expect) >= 40


def test_linter_meets_the_corpus() -> None:
    s = score(load())
    assert s.false_flags == 0, [(i.text, f) for i, f in s.misses if not i.expect]
    assert s.missed == 0, [(i.text, sorted(i.expect), f) for i, f in s.misses]


def test_both_accuracy_scripts_pass_their_thresholds() -> None:
    for script in ("template_accuracy.py", "reply_accuracy.py"):
        run = subprocess.run([sys.executable, str(ROOT / "scripts" / script)], capture_output=True, text=True,
                             cwd=ROOT, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
    templates = subprocess.run([sys.executable, str(ROOT / "scripts" / "template_accuracy.py")],
                               capture_output=True, text=True, cwd=ROOT, timeout=120).stdout
    assert "false flags on good templates: 0   expected findings missed: 0" in templates
