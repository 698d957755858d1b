"""The API and the worker start at the same moment and both migrate the ledger: neither may fail."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from reporting.ledger import Ledger


def _migrate(url: str) -> None:
    Ledger(url).migrate()


def test_processes_migrating_one_new_ledger_at_once_all_succeed(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for attempt in range(5):  # the race is narrow; several fresh ledgers make a regression show
        url = f"sqlite:///{tmp_path}/ledger-{attempt}.db"
        procs = [context.Process(target=_migrate, args=(url,)) for _ in range(4)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=60)
        assert [proc.exitcode for proc in procs] == [0, 0, 0, 0]
        assert Ledger(url).count() == 0  # and the result is a usable, empty ledger
