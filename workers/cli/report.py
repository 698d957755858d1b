"""`noshow report`: recovery numbers from the ledger, the same figures as the dashboard."""

from __future__ import annotations

from pathlib import Path

from reporting.cli import make_report_command
from reporting.ledger import Ledger
from workers.cli.common import REFUSED, fail, settings


def _ledger() -> Ledger:
    url = settings().storage.ledger_db_url
    path = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    if path is not None and not path.exists():
        # never start an empty ledger here: it would report 0 cases and hide where the real one is
        fail(f"no ledger at {path}: start the stack (`noshow up`) first, or set NOSHOW_DATA_DIR / NOSHOW_LEDGER_URL",
             REFUSED)
    ledger = Ledger(url)
    ledger.migrate()
    return ledger


report = make_report_command(_ledger)
