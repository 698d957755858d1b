"""`noshow report`: recovery numbers from the ledger, the same figures as the dashboard."""

from __future__ import annotations

from reporting.cli import make_report_command
from reporting.ledger import Ledger
from workers.cli.common import settings


def _ledger() -> Ledger:
    ledger = Ledger(settings().storage.ledger_db_url)
    ledger.migrate()
    return ledger


report = make_report_command(_ledger)
