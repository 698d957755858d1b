"""Activities are called by typed reference (their method on the activity class), never by a string name, and
always through common.run_activity, so every call has the project's timeout and retry unless it says otherwise."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from temporalio import activity

ROOT = Path(__file__).resolve().parent.parent.parent
WORKFLOW_CODE = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "workflows").glob("*.py"))
BY_NAME = {"execute_activity", "start_activity", "execute_local_activity", "start_local_activity"}


def _calls(filename: str) -> list[ast.Call]:
    tree = ast.parse((ROOT / filename).read_text(), filename=filename)
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]


@pytest.mark.parametrize("filename", WORKFLOW_CODE)
def test_no_activity_is_called_by_name(filename: str) -> None:
    by_name = [ast.unparse(c)[:80] for c in _calls(filename)
               if ast.unparse(c.func.value) == "workflow" and c.func.attr in BY_NAME]  # type: ignore[attr-defined]
    assert by_name == [], by_name
    direct = [c for c in _calls(filename)
              if ast.unparse(c.func.value) == "workflow" and "activity" in c.func.attr]  # type: ignore[attr-defined]
    assert filename == "workflows/common.py" or direct == [], "call activities through common.run_activity"


@pytest.mark.parametrize("filename", WORKFLOW_CODE)
def test_every_activity_reference_is_a_defined_activity(filename: str) -> None:
    import importlib

    for call in _calls(filename):
        if ast.unparse(call.func) not in ("common.run_activity", "self._finish_after"):
            continue
        ref = call.args[0]
        if ast.unparse(call.func) == "common.run_activity" and ast.unparse(ref) == "activity":
            continue  # the close-out's helpers run the reference they were handed (by _finish_after, checked here)
        assert isinstance(ref, ast.Attribute) and isinstance(ref.value, ast.Name), ast.unparse(call)[:80]
        # resolve the class through the module that defines it, as the workflow's imports do
        module = _defining_module(ref.value.id)
        method = getattr(getattr(importlib.import_module(module), ref.value.id), ref.attr)
        assert activity._Definition.from_callable(method) is not None, f"{ast.unparse(ref)} is no activity"


def _defining_module(cls: str) -> str:
    for path in sorted([*(ROOT / "activities").glob("*.py"), *(ROOT / "workflows").glob("*.py")]):
        tree = ast.parse(path.read_text())
        if any(isinstance(n, ast.ClassDef) and n.name == cls for n in tree.body):
            return str(path.relative_to(ROOT).with_suffix("")).replace("/", ".")
    raise AssertionError(f"no class {cls} in activities/ or workflows/")




def test_no_activity_heartbeats() -> None:
    """Activity calls set no heartbeat_timeout because none heartbeats: one that starts to needs a timeout in
    its calls (common.run_activity), or a cancelled case would never reach it."""
    for path in sorted([*(ROOT / "activities").rglob("*.py"), *(ROOT / "workers").rglob("*.py")]):
        assert "activity.heartbeat(" not in path.read_text(), path
