"""Workflow code the sandbox passes through (shared by every cached case, so not re-imported per case) is not
guarded by the sandbox at run time; these checks stand in for it: no clock, randomness, environment, files,
processes, sockets or threads, and no module state a case could change."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
WORKFLOW_MODULES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "workflows").glob("*.py")
                          if "@workflow.defn" in p.read_text())
# every other module of workflows/ is imported by them through the sandbox's pass-through: the case's stage
# modules, the versions, the shared helpers, the activity stubs, the search attributes
PASSED_THROUGH = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "workflows").glob("*.py")
                        if str(p.relative_to(ROOT)) not in WORKFLOW_MODULES and p.name != "__init__.py")
CASE_STAGES = ["workflows/case_base.py", "workflows/case_booking.py", "workflows/case_conversation.py",
               "workflows/case_review.py", "workflows/case_sending.py", "workflows/case_sequence.py",
               "workflows/case_versions.py", "workflows/case_watch.py"]
FORBIDDEN_MODULES = {"time", "random", "uuid", "os", "sys", "socket", "subprocess", "asyncio", "threading",
                     "secrets", "httpx", "sqlite3", "pathlib", "shutil", "tempfile", "logging", "structlog"}
# common.py's one lock guards its process-wide cache of equal, read-only programs: no case sees another's state
ALLOWED = {("workflows/common.py", "threading", "Lock")}
FORBIDDEN_CALLS = {"open", "input", "exec", "eval", "__import__"}
CLOCK_METHODS = {"now", "utcnow", "today", "fromtimestamp", "utcfromtimestamp"}


def problems(filename: str, text: str | None = None) -> list[str]:
    tree = ast.parse((ROOT / filename).read_text() if text is None else text, filename=filename)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
            found += [f"from {node.module} import {a.name}" for a in node.names
                      if (filename, node.module, a.name) not in ALLOWED]
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
                found.append(f"{func.id}() at line {node.lineno}")
            if isinstance(func, ast.Attribute) and func.attr in CLOCK_METHODS and ast.unparse(func.value) != "workflow":
                found.append(f"{ast.unparse(func)}() at line {node.lineno}: use workflow.now()")
        elif isinstance(node, ast.Global | ast.Nonlocal):
            found.append(f"global state at line {node.lineno}")
    return found


@pytest.mark.parametrize("filename", PASSED_THROUGH)
def test_passed_through_workflow_code_uses_nothing_the_sandbox_would_refuse(filename: str) -> None:
    assert problems(filename) == []


def test_the_guard_finds_what_it_looks_for() -> None:
    probe = ("import random\nfrom datetime import datetime\nfrom threading import Thread\n\n"
             "def f() -> None:\n    global X\n    datetime.now()\n    open('x')\n    workflow.now()\n")
    assert len(problems("workflows/common.py", probe)) == 5, problems("workflows/common.py", probe)


def test_every_case_stage_module_is_guarded() -> None:
    assert set(CASE_STAGES) <= set(PASSED_THROUGH), PASSED_THROUGH
    assert "workflows/common.py" in PASSED_THROUGH


def _passed_through_imports(tree: ast.Module) -> tuple[list[ast.stmt], list[ast.stmt]]:
    """The module's top-level imports of workflows.*: those inside `imports_passed_through()`, and the others."""
    inside: list[ast.stmt] = []
    outside: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.With) and "imports_passed_through" in ast.unparse(node.items[0].context_expr):
            inside += [n for n in node.body if isinstance(n, ast.Import | ast.ImportFrom)]
        elif isinstance(node, ast.Import | ast.ImportFrom):
            outside.append(node)
    return inside, outside


def _workflows_modules(stmts: list[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for n in stmts:
        if isinstance(n, ast.Import):
            names |= {a.name for a in n.names if a.name.startswith("workflows.")}
        elif isinstance(n, ast.ImportFrom) and (n.module or "").startswith("workflows"):
            names.add(n.module or "")
    return names


@pytest.mark.parametrize("filename", WORKFLOW_MODULES)
def test_workflow_modules_pass_their_helpers_through(filename: str) -> None:
    """`from workflows import case_base` would load the module into each case's sandbox again (the parent
    package is already there): a workflow module names every workflows.* module it uses, inside
    `imports_passed_through()`, and each of those is guarded above."""
    tree = ast.parse((ROOT / filename).read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "workflows"], filename
    inside, outside = _passed_through_imports(tree)
    assert not _workflows_modules(outside), (filename, _workflows_modules(outside))
    for module in _workflows_modules(inside):
        assert module.replace(".", "/") + ".py" in PASSED_THROUGH, (filename, module)


def test_the_case_workflow_is_composed_of_the_stage_modules() -> None:
    text = (ROOT / "workflows" / "case.py").read_text()
    assert "import workflows.case_sequence as sequence" in text and "import workflows.case_watch as watch" in text
    assert "class RecoveryCaseWorkflow(sequence.SequenceSteps, watch.WatchSteps)" in text
