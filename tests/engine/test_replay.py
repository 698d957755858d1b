"""Replay saved histories of every branch against the current workflow code: a change that alters the
sequence of commands without a version gate fails here (regenerate with NOSHOW_SAVE_HISTORIES=1 only after
gating the change with workflow.patched)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.case import RecoveryCaseWorkflow

HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("*.json"))


def test_histories_exist_for_the_main_branches() -> None:
    names = {p.name.rsplit("-", 1)[0] for p in HISTORIES}
    for branch in ("test_no_show_is_recovered_by_picking_a_slot", "test_attended_case_closes_without_messages",
                   "test_reviewer_rejection_closes_the_case",
                   "test_opt_out_stops_this_case_and_every_other_case_of_the_contact"):
        assert branch in names


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_replay(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=[RecoveryCaseWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
