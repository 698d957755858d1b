"""The US area code -> state table in policies/send_rules.py, built from phonenumbers' geocoder data.

    .venv/bin/python scripts/us_area_codes.py          # print the table literal to paste
    .venv/bin/python scripts/us_area_codes.py --check  # exit 1 when the installed phonenumbers disagrees

send_rules keeps this small table instead of importing phonenumbers.geocoder, which loads about 100 MB of
geodata for every language into each worker. A US area code lies in one state (NANPA assigns it so); where
the geocoder names several for one code (a handful of exchanges), the state most of its prefixes name wins.
Run --check after upgrading phonenumbers: a new overlay code missing here gets no state rules.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build() -> dict[str, str]:
    import phonenumbers
    from phonenumbers.geodata import GEOCODE_DATA  # the 100 MB import, here only
    from phonenumbers.prefix import _find_lang

    from policies.send_rules import US_STATE_CODES

    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for prefix, langs in GEOCODE_DATA.items():
        if not prefix.startswith("1") or len(prefix) < 4:
            continue
        area = prefix[1:4]
        if phonenumbers.region_code_for_number(phonenumbers.parse(f"+1{area}2345678")) != "US":
            continue
        desc = _find_lang(langs, "en", None, None)
        name = (desc or "").split(",")[-1].strip()
        code = US_STATE_CODES.get(name) or (name if len(name) == 2 and name.isupper() else None)
        if code:
            votes[area][code] += 1
    return {area: counts.most_common(1)[0][0] for area, counts in sorted(votes.items())}


def render(table: dict[str, str]) -> str:
    items = [f"{area}{state}" for area, state in table.items()]
    lines = [" ".join(items[i:i + 18]) for i in range(0, len(items), 18)]
    return '_US_AREA_STATES = """\n' + "\n".join(lines) + '\n"""'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the table in policies/send_rules.py")
    args = parser.parse_args(argv)
    table = build()
    if not args.check:
        print(render(table))
        return 0
    from policies.send_rules import US_AREA_STATES

    missing = sorted(set(table) - set(US_AREA_STATES))
    differ = sorted(a for a in table if a in US_AREA_STATES and US_AREA_STATES[a] != table[a])
    if missing or differ:
        print(f"policies/send_rules.py is out of date: missing {missing}, different {differ}; paste the output "
              "of `python scripts/us_area_codes.py` over _US_AREA_STATES")
        return 1
    print(f"US area code table matches phonenumbers ({len(table)} area codes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
