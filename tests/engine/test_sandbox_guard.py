"""Workflow code the sandbox passes through (shared by every cached case, so not re-imported per case) is not
guarded by the sandbox at run time; these checks stand in for it: no clock, randomness, environment, files,
processes, sockets or threads, and no module state a case could change."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
PASSED_THROUGH = ["workflows/case_steps.py", "workflows/common.py"]
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


def test_the_case_module_passes_its_steps_through() -> None:
    """`from workflows import case_steps` would load the steps into each case's sandbox again (the parent package
    is already there): the import must name the module."""
    for filename in ("workflows/case.py", "workflows/backfill.py"):
        tree = ast.parse((ROOT / filename).read_text())
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "workflows"], filename
    assert "import workflows.case_steps as steps" in (ROOT / "workflows" / "case.py").read_text()
