"""Accuracy of reply understanding on the labelled corpus (tests/replies/corpus.yaml).

    .venv/bin/python scripts/reply_accuracy.py [--model] [--misses]

Prints overall accuracy (intent and slot both right), per-intent precision/recall, opt-out recall, false
opt-outs, wrong-slot bookings and bookings made on ambiguous items. `--model` routes unsure replies through the
model configured by NOSHOW_REPLY_MODEL_URL / _NAME / _API_KEY. Exit 1 when opt-out recall is below 100 %, a reply
is falsely taken as an opt-out, an ambiguous item books, a slot is booked wrongly, or accuracy is below the
corpus minimum.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.llm import classify_reply
from domain.models import ReplyIntent, ReplyUnderstanding
from policies.replies import ReplyInput, understand
from tests.replies.corpus import MIN_ACCURACY, load, score
from workers.dependencies import reply_model
from workers.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="store_true", help="consult the configured model when rules are unsure")
    parser.add_argument("--misses", action="store_true", help="list the items classified wrongly")
    args = parser.parse_args(argv)
    client = reply_model(get_settings()) if args.model else None
    if args.model and client is None:
        print("error: --model needs NOSHOW_REPLY_MODEL_URL", file=sys.stderr)
        return 2

    def classify(inp: ReplyInput) -> ReplyUnderstanding:
        return classify_reply(inp, client) if client else understand(inp)

    items = load()
    s = score(items, classify)
    print(f"items: {s.total}")
    print(f"accuracy (intent and slot): {s.accuracy:.1%}  (minimum {MIN_ACCURACY:.0%})")
    print(f"opt-out recall: {s.recall(ReplyIntent.opt_out):.1%}   opt-out precision: "
          f"{s.precision(ReplyIntent.opt_out):.1%}")
    print(f"false opt-outs: {s.false_opt_outs}   opt-out clarification right: {s.clarify_right}/{s.total}")
    print(f"bookings on ambiguous items: {s.ambiguous_bookings}   wrong-slot bookings: {s.wrong_bookings}")
    print(f"{'intent':14}{'support':>8}{'precision':>11}{'recall':>8}")
    for intent in ReplyIntent:
        c = s.per_intent[intent.value]
        support = c["tp"] + c["fn"]
        print(f"{intent.value:14}{support:>8}{s.precision(intent):>11.1%}{s.recall(intent):>8.1%}")
    if args.misses:
        for item, result in s.misses:
            print(f"  miss #{item.n}: {item.text!r} expected {item.intent.value}/{item.slot} "
                  f"got {result.intent.value}/{result.slot_index} ({result.reason})")
    if client:
        client.close()
    ok = (s.recall(ReplyIntent.opt_out) == 1.0 and s.false_opt_outs == 0 and s.ambiguous_bookings == 0
          and s.wrong_bookings == 0 and s.accuracy >= MIN_ACCURACY)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
