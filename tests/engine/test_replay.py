"""Replay saved histories of every branch against the current workflow code: a change that alters the
sequence of commands without a version gate fails here (regenerate with NOSHOW_SAVE_HISTORIES=1 only after
gating the change with workflow.patched).

tests/histories/*.json are the current version's (closed cases, and `-running-<stage>-` ones cut while a case
waits); tests/histories/v1/ holds histories recorded before LEAN_PATCH: cases started then are still open in
production and must keep replaying on the old path, so those files are never regenerated.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.case import LEAN_PATCH, RecoveryCaseWorkflow

ROOT = Path(__file__).parent.parent / "histories"
HISTORIES = sorted(ROOT.rglob("*.json"))


def branches(folder: Path) -> set[str]:
    return {p.name.rsplit("-", 1)[0] for p in folder.glob("*.json")}


def test_histories_exist_for_the_main_branches() -> None:
    for folder in (ROOT, ROOT / "v1"):
        for branch in ("test_no_show_is_recovered_by_picking_a_slot", "test_attended_case_closes_without_messages",
                       "test_reviewer_rejection_closes_the_case",
                       "test_opt_out_stops_this_case_and_every_other_case_of_the_contact"):
            assert branch in branches(folder), (folder, branch)


def test_histories_exist_for_cases_still_waiting() -> None:
    waiting = {p.name.split("-running-")[1].rsplit("-", 1)[0] for p in ROOT.glob("*-running-*.json")}
    assert {"awaiting_review", "recovering", "following"} <= waiting, waiting


def patches(path: Path) -> set[str]:
    """The workflow.patched ids a history took (its core_patch markers)."""
    found = set()
    for event in json.loads(path.read_text())["events"]:
        marker = event.get("markerRecordedEventAttributes")
        if marker and marker.get("markerName") == "core_patch":
            for payload in marker["details"]["patch-data"]["payloads"]:
                found.add(json.loads(base64.b64decode(payload["data"]))["id"])
    return found


def test_each_history_is_of_the_version_its_folder_says() -> None:
    for path in HISTORIES:
        assert (LEAN_PATCH in patches(path)) == (path.parent == ROOT), path


@pytest.mark.parametrize("path", HISTORIES, ids=[str(p.relative_to(ROOT).with_suffix("")) for p in HISTORIES])
async def test_replay(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=[RecoveryCaseWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
