"""Determinism guard: the command sequence of each workflow must match the committed baseline
(tests/engine/workflow_fingerprint.json), so a change that would break replay of open cases fails CI until it
is gated with workflow.patched(...) and the baseline and saved histories are regenerated on purpose."""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def _load() -> ModuleType:
    # scripts/ is not a package: load the fingerprinter by path, the same code the regeneration command runs
    spec = importlib.util.spec_from_file_location("update_fingerprint", ROOT / "scripts" / "update_fingerprint.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("update_fingerprint", module)
    spec.loader.exec_module(module)
    return module


fp = _load()
STAGES = ("base", "sending", "conversation", "review", "booking", "sequence", "watch")
# RecoveryCase: its entry points and the stage modules it is composed of
CASE_FILES = ("workflows/case.py", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "workflows").glob("case_*.py")))
REQUIRED_MESSAGE = (
    "the workflow's command sequence changed — gate the change with workflow.patched(...) and regenerate with "
    "`python scripts/update_fingerprint.py`",
    "NOSHOW_SAVE_HISTORIES=<folder> pytest tests/engine/test_case_workflow.py")


@pytest.mark.parametrize("filename", fp.WORKFLOW_FILES)
def test_workflow_commands_match_the_baseline(filename: str) -> None:
    baseline = fp.load_baseline()
    assert filename in baseline, (
        f"{filename} defines a workflow but has no baseline: run `python scripts/update_fingerprint.py`")
    current = fp.fingerprint(ROOT, (filename,))[filename]
    problem = fp.difference(baseline[filename], current, filename)
    assert problem is None, problem


def test_the_baseline_covers_every_workflow_class() -> None:
    baseline = fp.load_baseline()
    assert {"workflows/case.py", "workflows/consent.py", "workflows/reconcile.py"} <= set(fp.WORKFLOW_FILES)
    assert set(baseline) == set(fp.WORKFLOW_FILES), "a workflow file was added or removed: regenerate the baseline"
    assert set(baseline["workflows/case.py"]) == {"RecoveryCase"}
    assert set(baseline["workflows/consent.py"]) == {"ConfirmOptOut"}
    assert "ReconcileSourceWorkflow" in baseline["workflows/reconcile.py"]
    run = baseline["workflows/case.py"]["RecoveryCase"]["run"]
    assert run[-1] == "workflow.wait_condition"  # all_handlers_finished before returning
    assert run[0] == "workflow.patched(<LEAN_PATCH>)"  # the version is decided before anything else


def test_the_case_fingerprint_covers_every_stage_module() -> None:
    """RecoveryCase is composed of the workflows/case_*.py stage modules: every method of theirs that issues
    commands is part of its fingerprint, and every stage module has some."""
    case = fp.load_baseline()["workflows/case.py"]["RecoveryCase"]
    texts = fp.sources(ROOT)
    library = fp.class_library(texts)
    with_commands = set()
    for filename in CASE_FILES[1:]:
        for cls in (n for n in ast.parse(texts[filename]).body if isinstance(n, ast.ClassDef)):
            own = {n.name for n in cls.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
            commanding = own & set(fp.fingerprint_class(cls, library))
            assert commanding <= set(case), (filename, commanding - set(case))
            if commanding:
                with_commands.add(filename)
    assert {f"workflows/case_{m}.py" for m in STAGES} <= with_commands, with_commands


def test_activities_are_listed_under_their_registered_names() -> None:
    """A typed reference (`SchedulingActivities.book_slot`) shows as the name the worker registers."""
    flat = "\n".join(fp.flatten(fp.load_baseline()["workflows/case.py"]))
    for name in ("gather_evidence", "send_message", "understand_reply", "offer_slots", "book_slot", "cancel_booking",
                 "release_holds", "update_crm", "request_review", "record_consent", "record_ledger"):
        assert f"('{name}')" in flat, name
    assert "Activities." not in flat  # every reference resolved
    reconcile = fp.flatten(fp.load_baseline()["workflows/reconcile.py"])
    assert any("('deliver_appointment_events')" in e for e in reconcile), reconcile
    assert json.loads((ROOT / "tests/engine/workflow_fingerprint.json").read_text())["_comment"]


def _edited(old: str, new: str) -> dict[str, dict[str, list[str]]]:
    """RecoveryCase's fingerprint after one edit to workflows/case.py or the steps it inherits."""
    texts = fp.sources(ROOT)
    assert sum(texts[f].count(old) for f in CASE_FILES) == 1, f"the edit anchor {old!r} must occur exactly once"
    where = next(f for f in CASE_FILES if old in texts[f])
    texts[where] = texts[where].replace(old, new)
    return fp.fingerprint(ROOT, ("workflows/case.py",), texts)["workflows/case.py"]  # type: ignore[no-any-return]


EDITS = {
    "a new activity": ('        await self._close_out()\n',
                       '        await workflow.execute_activity("audit_case", self.state, '
                       'start_to_close_timeout=ACTIVITY_TIMEOUT)\n        await self._close_out()\n'),
    "a renamed activity": ("AttendanceActivities.gather_evidence, EvidenceRequest(\n            case_id=self.inp."
                           "case_id, contact_key=self.inp.contact_key, appointment=self.",
                           "AttendanceActivities.collect_evidence, EvidenceRequest(\n            case_id=self.inp."
                           "case_id, contact_key=self.inp.contact_key, appointment=self."),
    "another activity by its class": ("await common.run_activity(SchedulingActivities.cancel_booking, BookRequest(",
                                      "await common.run_activity(SchedulingActivities.book_slot, BookRequest("),
    "a removed timer": ('            await workflow.wait_condition(ready, timeout=timeout)\n',
                        '            pass\n'),
    "a new crm step": ('await self._crm("closed"', 'await self._crm("closed_by_engine"'),
    "a step's activity moved into the entry points": (
        "        await self._close_out()\n",
        "        await self._workflow_release()\n        await self._close_out()\n"),
    "a helper call moved out of its branch": (
        "        if self.state.offered and stage not in BOOKED_ENDS:\n            await self._workflow_release()\n",
        "        await self._workflow_release()\n"),
    "a new sleep": ("        await self._set_stage(Stage.checking)\n",
                    "        await workflow.sleep(1)\n        await self._set_stage(Stage.checking)\n"),
    "a patch gate": ("        await self._set_stage(Stage.checking)\n",
                     '        if workflow.patched("check-v2"):\n            pass\n'
                     "        await self._set_stage(Stage.checking)\n"),
    "the rebooked-missed gate dropped": (
        "        if not await self._new_appointment_kept(start, end) and workflow.patched(REBOOKED_MISSED_PATCH):\n",
        "        if not await self._new_appointment_kept(start, end):\n"),
    "a reply read outside the shared helper": (
        "            understanding = await self._next_reply()\n            if understanding is None:\n"
        "                continue\n            intent = understanding.intent\n            if intent == "
        "ReplyIntent.wrong_person:",
        "            understanding = await self._understand(self.replies.pop(0))\n            intent = "
        "understanding.intent\n            if intent == ReplyIntent.wrong_person:"),
    "a base method overridden by a stage": (
        "class WatchSteps(CaseBase):\n",
        "class WatchSteps(CaseBase):\n    async def _flush_ledger(self) -> None:\n        pass\n\n"),
}


@pytest.mark.parametrize("change", sorted(EDITS))
def test_the_fingerprint_detects_a_changed_command_sequence(change: str) -> None:
    baseline = fp.load_baseline()["workflows/case.py"]
    edited = _edited(*EDITS[change])
    problem = fp.difference(baseline, edited, "workflows/case.py")
    assert problem is not None, f"{change} went unnoticed"
    for part in REQUIRED_MESSAGE:
        assert part in problem
    assert "\n-" in problem or "\n+" in problem  # the diff names what changed


def test_edits_that_issue_no_commands_keep_the_fingerprint() -> None:
    baseline = fp.load_baseline()["workflows/case.py"]
    for old, new in [('self._note("new appointment cancelled at the customer\'s request")',
                      'self._note("new appointment cancelled on request")'),
                     ("    # ------------------------------------------------------------------ ledger\n", "\n"),
                     ("    async def _next_reply(self, answers: frozenset[ReplyIntent] = CONSENT_AND_HELP)",
                      "    async def _next_reply(self, answers: frozenset[ReplyIntent] = OPT_OUT_ONLY)"),
                     ("OPT_OUT_GRACE = timedelta(seconds=30)", "OPT_OUT_GRACE = timedelta(seconds=45)")]:
        assert fp.difference(baseline, _edited(old, new), "workflows/case.py") is None, (old, new)


def test_the_update_script_writes_what_the_check_accepts() -> None:
    rendered = fp.render(fp.fingerprint())
    assert rendered == (ROOT / "tests/engine/workflow_fingerprint.json").read_text(), (
        "the committed baseline is not what `python scripts/update_fingerprint.py` writes")
    assert fp.main(["--check"]) == 0
