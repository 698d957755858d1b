"""How long the `noshow` command takes to answer: `noshow --help` (target under 0.3 s on an idle machine) and
`noshow settings` (reads every settings section), each the median of repeated fresh processes.

    .venv/bin/python bench/cli_startup.py            # 20 runs each
    .venv/bin/python bench/cli_startup.py --runs 50

Prints one line per command and appends them to bench/results.md. Run on purpose, never from pytest.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOSHOW = Path(sys.executable).parent / "noshow"
TARGET_HELP_SECONDS = 0.3
COMMANDS = [["--help"], ["settings", "temporal"]]


def timed(args: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(NOSHOW), *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    timed(["--help"], 2)  # warm the file cache and the bytecode
    lines = [f"\n## CLI start-up, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}"
             f", Python {platform.python_version()}, {args.runs} runs each\n",
             "| command | median s | p90 s | target |", "|---|---|---|---|"]
    for command in COMMANDS:
        samples = sorted(timed(command, args.runs))
        median, p90 = statistics.median(samples), samples[int(0.9 * (len(samples) - 1))]
        target = f"< {TARGET_HELP_SECONDS} s ({'met' if median < TARGET_HELP_SECONDS else 'missed'})" \
            if command == ["--help"] else "-"
        lines.append(f"| noshow {' '.join(command)} | {median:.3f} | {p90:.3f} | {target} |")
    print("\n".join(lines))
    with (ROOT / "bench" / "results.md").open("a") as results:
        results.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
