"""Accuracy of the template guardrail linter on the labelled corpus (tests/templates/corpus.yaml).

    .venv/bin/python scripts/template_accuracy.py [--misses]

Prints how many templates were judged exactly right, false flags on good templates, expected findings missed,
and per-category recall and precision. Exit 1 when a good template is refused or a finding is missed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.templates.corpus import load, score


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list the templates judged wrongly")
    args = parser.parse_args(argv)
    items = load()
    s = score(items)
    spanish = sum(1 for i in items if i.language == "es")
    print(f"templates: {s.total} (good {s.good}, bad {s.bad}; Spanish {spanish})")
    print(f"accuracy (exact findings): {s.accuracy:.1%}")
    print(f"false flags on good templates: {s.false_flags}   expected findings missed: {s.missed}")
    print(f"{'category':18}{'support':>8}{'precision':>11}{'recall':>8}")
    for code, c in sorted(s.per_code.items()):
        support = c["tp"] + c["fn"]
        precision = c["tp"] / ((c["tp"] + c["fp"]) or 1)
        recall = c["tp"] / (support or 1)
        print(f"{code:18}{support:>8}{precision:>11.1%}{recall:>8.1%}")
    if args.misses:
        for item, found in s.misses:
            print(f"  miss #{item.n}: {item.text!r} expected {sorted(item.expect)} got {found}")
    return 0 if s.false_flags == 0 and s.missed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
