"""Write the JSON Schema of every event type `/webhooks/events` accepts to docs/schemas/events/<type>.json.

    .venv/bin/python scripts/export_event_schemas.py          # rewrite the files
    .venv/bin/python scripts/export_event_schemas.py --check  # exit 1 when a file is missing or stale

The API serves the same schemas at `GET /schemas/events/{type}.json`; both come from `connectors.event_schemas`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from connectors.event_schemas import event_types, schema_for

FOLDER = Path(__file__).resolve().parent.parent / "docs" / "schemas" / "events"


def rendered(event_type: str) -> str:
    return json.dumps(schema_for(event_type), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    FOLDER.mkdir(parents=True, exist_ok=True)
    for event_type in event_types():
        path = FOLDER / f"{event_type}.json"
        text = rendered(event_type)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        print("stale event schemas (run scripts/export_event_schemas.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
