"""Replay saved histories of every workflow type and every version against the current workflow code: a change
that alters the sequence of commands without a version gate fails here (save new histories, see
tests/engine/history_recorder.py, only after gating the change with workflow.patched).

tests/histories/
    *.json          RecoveryCase, current version (LEAN_PATCH), recorded before the case was split into stage
                    modules: closed cases, and `-running-<stage>-` ones cut while a case waits
    stages/         RecoveryCase, current version, recorded with the stage modules (rebooked_missed included)
    v1/             RecoveryCase before LEAN_PATCH: cases started then are still open in production and must
                    keep replaying on the old path, so those files are never regenerated
    <WorkflowType>/ every other workflow the worker runs (SlotBackfill, ConfirmOptOut, ReconcileSourceWorkflow,
                    RenewPushChannelsWorkflow, DailyDigestWorkflow)
Each history replays with the one workflow class registered under its type.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner
from temporalio.workflow import NondeterminismError

from domain.case import CaseInput, CaseState
from workers.worker import WORKFLOWS
from workflows.case import LEAN_PATCH, REBOOKED_MISSED_PATCH, RecoveryCaseWorkflow

ROOT = Path(__file__).parent.parent / "histories"
HISTORIES = sorted(ROOT.rglob("*.json"))
CASE = "RecoveryCase"
CASE_FOLDERS = {ROOT: True, ROOT / "stages": True, ROOT / "v1": False}  # folder -> recorded with LEAN_PATCH
BY_TYPE: dict[str, type] = {workflow._Definition.must_from_class(cls).name or cls.__name__: cls for cls in WORKFLOWS}


def workflow_type(path: Path) -> str:
    start = json.loads(path.read_text())["events"][0]["workflowExecutionStartedEventAttributes"]
    return str(start["workflowType"]["name"])


def branches(folder: Path) -> set[str]:
    return {p.name.rsplit("-", 1)[0] for p in folder.glob("*.json")}


def test_histories_exist_for_the_main_branches() -> None:
    for folder in CASE_FOLDERS:
        for branch in ("test_no_show_is_recovered_by_picking_a_slot", "test_attended_case_closes_without_messages",
                       "test_reviewer_rejection_closes_the_case",
                       "test_opt_out_stops_this_case_and_every_other_case_of_the_contact"):
            assert branch in branches(folder), (folder, branch)


def test_histories_exist_for_cases_still_waiting() -> None:
    for folder in (ROOT, ROOT / "stages"):
        waiting = {p.name.split("-running-")[1].rsplit("-", 1)[0] for p in folder.glob("*-running-*.json")}
        assert {"awaiting_review", "recovering", "following"} <= waiting, (folder, waiting)


def test_every_workflow_type_the_worker_runs_has_histories() -> None:
    found = {workflow_type(p) for p in HISTORIES}
    assert found == set(BY_TYPE), (found, set(BY_TYPE))
    for path in HISTORIES:
        kind = workflow_type(path)
        assert (path.parent in CASE_FOLDERS) if kind == CASE else path.parent == ROOT / kind, path


def patches(path: Path) -> set[str]:
    """The workflow.patched ids a history took (its core_patch markers)."""
    found = set()
    for event in json.loads(path.read_text())["events"]:
        marker = event.get("markerRecordedEventAttributes")
        if marker and marker.get("markerName") == "core_patch":
            for payload in marker["details"]["patch-data"]["payloads"]:
                found.add(json.loads(base64.b64decode(payload["data"]))["id"])
    return found


def test_each_case_history_is_of_the_version_its_folder_says() -> None:
    for path in HISTORIES:
        if workflow_type(path) == CASE:
            assert (LEAN_PATCH in patches(path)) == CASE_FOLDERS[path.parent], path


def test_the_rebooked_missed_stage_has_a_history_and_older_follow_ups_do_not() -> None:
    marked = {p.name for p in HISTORIES if REBOOKED_MISSED_PATCH in patches(p)}
    assert marked and all(p.startswith("test_a_missed_new_appointment") for p in marked), marked
    assert (ROOT / "stages" / "test_a_kept_new_appointment_closes_as_confirmed-0.json").exists()


@pytest.mark.parametrize("path", HISTORIES, ids=[str(p.relative_to(ROOT).with_suffix("")) for p in HISTORIES])
async def test_replay(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=[BY_TYPE[workflow_type(path)]], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)


@workflow.defn(name=CASE, sandboxed=False)
class CloseOutReordered(RecoveryCaseWorkflow):
    """The case with two close-out commands swapped: the stage upsert before the CRM write of an unrecovered
    case. The same commands, another order: what the replay must refuse."""

    @workflow.init
    def __init__(self, inp: CaseInput) -> None:
        super().__init__(inp)

    @workflow.run
    async def run(self, inp: CaseInput) -> CaseState:
        return await super().run(inp)

    async def _close_out(self) -> None:
        self._closing_ledger(self.state.stage)
        await self._set_stage(self.state.stage)
        await self._crm("closed", {"recovery_status": "unrecovered"})


async def test_a_changed_command_order_fails_replay() -> None:
    path = ROOT / "test_experiment_assigns_arms_and_the_holdout_gets_no_contact-0.json"
    assert json.loads(path.read_text())["events"][-1]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    await Replayer(workflows=[RecoveryCaseWorkflow], data_converter=pydantic_data_converter).replay_workflow(history)
    reordered = Replayer(workflows=[CloseOutReordered], data_converter=pydantic_data_converter,
                         workflow_runner=UnsandboxedWorkflowRunner())
    with pytest.raises(NondeterminismError):
        await reordered.replay_workflow(history)
