"""Command fingerprint of the workflows: a determinism guard in the style of PostHog's workflow_fingerprints.py.

    .venv/bin/python scripts/update_fingerprint.py          # rewrite tests/engine/workflow_fingerprint.json
    .venv/bin/python scripts/update_fingerprint.py --check  # exit 1 when the source no longer matches it

For every `@workflow.defn` class in workflows/*.py, each method's command-issuing calls are listed in source
order (parsed with `ast`, nothing is imported): activities (workflow.execute_activity / start_activity /
execute_activity_method ..., local activities, and common.run_activity, the one helper the workflows use),
child workflows, wait_condition, sleep (and asyncio.sleep), upsert_search_attributes, upsert_memo,
continue_as_new, patched, deprecate_patch, the helper calls self._send / self._crm / self._finish_after with
their literal first argument, and calls of the class's other methods that themselves issue commands (so
reordering `await self._set_stage(...)` against an activity shows too). An activity named by its method
(`SchedulingActivities.book_slot`) is listed under the name it is registered with (`'book_slot'`, read from its
`@activity.defn` in activities/*.py or workflows/*.py), so the entry says which activity runs, however it is
referred to. Each entry carries the chain of enclosing if / else / while / for / try / with blocks, so moving a
call into another branch is a change as well.

A workflow class's base classes defined in workflows/*.py count as part of it: RecoveryCase is composed of the
stage modules workflows/case_*.py, and their methods are fingerprinted with its own, each name resolved in
Python's method resolution order (a class's own method replaces a base's of the same name).

Changing this sequence without `workflow.patched(...)` breaks replay of every open case; regenerate the baseline
only after gating the change, and save histories of the new path with it (tests/engine/history_recorder.py).
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "tests" / "engine" / "workflow_fingerprint.json"


def workflow_files(root: Path | None = None) -> tuple[str, ...]:
    """Every workflows/*.py that defines a workflow (case.py, reconcile.py, and any added later)."""
    base = root or ROOT
    return tuple(sorted(str(p.relative_to(base)) for p in (base / "workflows").glob("*.py")
                        if "@workflow.defn" in p.read_text()))


WORKFLOW_FILES = workflow_files()

WORKFLOW_COMMANDS = {
    "execute_activity", "start_activity", "execute_local_activity", "start_local_activity",
    "execute_activity_method", "start_activity_method", "execute_activity_class", "start_activity_class",
    "execute_child_workflow", "start_child_workflow", "wait_condition", "sleep", "upsert_search_attributes",
    "upsert_memo", "continue_as_new", "patched", "deprecate_patch", "get_external_workflow_handle",
}
NAMED_COMMANDS = {"execute_activity", "start_activity", "execute_local_activity", "start_local_activity",
                  "execute_activity_method", "start_activity_method", "execute_child_workflow",
                  "start_child_workflow", "patched", "deprecate_patch"}
HELPERS = {"_send", "_crm", "_finish_after"}
ACTIVITY_HELPERS = {("common", "run_activity")}  # (module alias, function): runs the activity it is given

HOW_TO_FIX = (
    "the workflow's command sequence changed — gate the change with workflow.patched(...) and regenerate with "
    "`python scripts/update_fingerprint.py`, and also save histories of the new path beside the old ones "
    "(NOSHOW_SAVE_HISTORIES=<folder> pytest tests/engine/test_case_workflow.py; open cases still run the old)"
)

Fingerprint = dict[str, dict[str, dict[str, list[str]]]]  # file -> workflow name -> method -> entries


ActivityNames = dict[str, str]  # "Class.method" -> the name the activity is registered with


def activity_names(root: Path = ROOT) -> ActivityNames:
    """Every `@activity.defn` method of a class in activities/*.py and workflows/*.py, by `Class.method`."""
    out: ActivityNames = {}
    for path in sorted([*(root / "activities").glob("*.py"), *(root / "workflows").glob("*.py")]):
        for cls in ast.parse(path.read_text(), filename=str(path)).body:
            if not isinstance(cls, ast.ClassDef):
                continue
            for fn in cls.body:
                if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                    for deco in fn.decorator_list:
                        target = deco.func if isinstance(deco, ast.Call) else deco
                        if isinstance(target, ast.Attribute) and target.attr == "defn" \
                                and ast.unparse(target.value) == "activity":
                            name = next((str(kw.value.value) for kw in getattr(deco, "keywords", [])
                                         if kw.arg == "name" and isinstance(kw.value, ast.Constant)), fn.name)
                            out[f"{cls.name}.{fn.name}"] = name
    return out


ACTIVITY_NAMES = activity_names()


def _literal(node: ast.expr) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return repr(node.value)
    reference = ast.unparse(node)
    if reference in ACTIVITY_NAMES:
        return repr(ACTIVITY_NAMES[reference])
    return f"<{reference}>"


def _first_arg(call: ast.Call) -> str:
    return f"({_literal(call.args[0])})" if call.args else "()"


def _is_workflow_defn(cls: ast.ClassDef) -> str | None:
    for deco in cls.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        if isinstance(target, ast.Attribute) and target.attr == "defn" and ast.unparse(target.value) == "workflow":
            if isinstance(deco, ast.Call):
                for kw in deco.keywords:
                    if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                        return str(kw.value.value)
            return cls.name
    return None


class _Calls(ast.NodeVisitor):
    """Command entries of one method body, in source order, each prefixed by its enclosing blocks."""

    def __init__(self, commanding: set[str]) -> None:
        self.commanding = commanding
        self.path: list[str] = []
        self.entries: list[str] = []

    def _block(self, kind: str, stmts: list[ast.stmt]) -> None:
        if not stmts:
            return
        self.path.append(kind)
        for stmt in stmts:
            self.visit(stmt)
        self.path.pop()

    def _add(self, what: str) -> None:
        self.entries.append(" > ".join([*self.path, what]))

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        self._block("if", node.body)
        self._block("else", node.orelse)

    def visit_While(self, node: ast.While) -> None:
        self.path.append("while")
        self.visit(node.test)
        for stmt in node.body:
            self.visit(stmt)
        self.path.pop()
        self._block("while-else", node.orelse)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self._block("for", node.body)
        self._block("for-else", node.orelse)

    visit_AsyncFor = visit_For

    def visit_Try(self, node: ast.Try) -> None:
        self._block("try", node.body)
        for handler in node.handlers:
            self._block("except", handler.body)
        self._block("try-else", node.orelse)
        self._block("finally", node.finalbody)

    visit_TryStar = visit_Try

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
        self._block("with", node.body)

    visit_AsyncWith = visit_With

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        # arguments are evaluated before the call, so their commands come first
        for arg in node.args:
            self.visit(arg)
        for kw in node.keywords:
            self.visit(kw.value)
        if isinstance(func, ast.Attribute):
            owner = ast.unparse(func.value)
            if owner == "workflow" and func.attr in WORKFLOW_COMMANDS:
                self._add(f"workflow.{func.attr}" + (_first_arg(node) if func.attr in NAMED_COMMANDS else ""))
            elif (owner, func.attr) in ACTIVITY_HELPERS:
                self._add(f"{owner}.{func.attr}{_first_arg(node)}")
            elif owner == "asyncio" and func.attr == "sleep":
                self._add("asyncio.sleep")
            elif owner == "self" and func.attr in HELPERS:
                self._add(f"self.{func.attr}{_first_arg(node)}")
            elif owner == "self" and func.attr in self.commanding:
                self._add(f"self.{func.attr}()")
            else:
                self.visit(func)
        else:
            self.visit(func)


def _direct_commands(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[bool, set[str]]:
    """Whether `fn` issues a command itself, and which self-methods it calls."""
    issues, calls = False, set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = ast.unparse(node.func.value)
            if (owner == "workflow" and node.func.attr in WORKFLOW_COMMANDS) or (
                    owner == "asyncio" and node.func.attr == "sleep") or (
                    owner == "self" and node.func.attr in HELPERS) or (owner, node.func.attr) in ACTIVITY_HELPERS:
                issues = True
            elif owner == "self":
                calls.add(node.func.attr)
    return issues, calls


Library = dict[str, ast.ClassDef]  # class name -> definition, over every workflows/*.py


def class_library(texts: dict[str, str]) -> Library:
    """Every top-level class of the given sources (filename -> text), by name."""
    out: Library = {}
    for filename, text in texts.items():
        for node in ast.parse(text, filename=filename).body:
            if isinstance(node, ast.ClassDef):
                out[node.name] = node
    return out


def _base_names(cls: ast.ClassDef) -> list[str]:
    return [b.attr if isinstance(b, ast.Attribute) else b.id
            for b in cls.bases if isinstance(b, ast.Attribute | ast.Name)]


def _mro(cls: ast.ClassDef, library: Library) -> list[ast.ClassDef]:
    """Python's C3 linearization over the classes found in the library (others, like `object`, are left out)."""
    bases = [library[n] for n in _base_names(cls) if n in library and library[n] is not cls]
    pending = [_mro(b, library) for b in bases] + [list(bases)]
    out = [cls]
    while any(pending):
        for seq in pending:
            head = seq[0] if seq else None
            if head is not None and not any(head in other[1:] for other in pending):
                break
        else:
            raise ValueError(f"no consistent method resolution order for {cls.name}")
        out.append(head)
        pending = [[c for c in seq if c is not head] for seq in pending]
    return out


def _methods(cls: ast.ClassDef, library: Library) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """The methods the class runs: its own and its bases' in the library, each name resolved as Python does.
    Listed from the furthest base to the class itself, in source order (an override sits where it is defined)."""
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for klass in reversed(_mro(cls, library)):
        for node in klass.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found.pop(node.name, None)
                found[node.name] = node
    return list(found.values())


def fingerprint_class(cls: ast.ClassDef, library: Library | None = None) -> dict[str, list[str]]:
    methods = _methods(cls, library or {})
    direct = {m.name: _direct_commands(m) for m in methods}
    commanding = {name for name, (issues, _) in direct.items() if issues}
    changed = True
    while changed:  # a method that calls a commanding method is commanding too
        changed = False
        for name, (_, calls) in direct.items():
            if name not in commanding and calls & commanding:
                commanding.add(name)
                changed = True
    out: dict[str, list[str]] = {}
    for method in methods:
        visitor = _Calls(commanding)
        for stmt in method.body:
            visitor.visit(stmt)
        if visitor.entries:
            out[method.name] = visitor.entries
    return out


def fingerprint_source(text: str, filename: str = "<workflow>", library: Library | None = None
                       ) -> dict[str, dict[str, list[str]]]:
    """Workflow name -> method -> command entries, for every @workflow.defn class in `text` (bases looked up in
    `library`, see class_library)."""
    tree = ast.parse(text, filename=filename)
    out: dict[str, dict[str, list[str]]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            name = _is_workflow_defn(node)
            if name is not None:
                out[name] = fingerprint_class(node, library)
    return out


def sources(root: Path = ROOT) -> dict[str, str]:
    """Every workflows/*.py by its path relative to root: workflow files and the base classes they use."""
    return {str(p.relative_to(root)): p.read_text() for p in sorted((root / "workflows").glob("*.py"))}


def fingerprint(root: Path = ROOT, files: tuple[str, ...] | None = None, texts: dict[str, str] | None = None
                ) -> Fingerprint:
    texts = texts or sources(root)
    library = class_library(texts)
    return {f: fingerprint_source(texts[f], f, library) for f in (files or workflow_files(root))}


def load_baseline(path: Path = BASELINE) -> Fingerprint:
    data = json.loads(path.read_text())
    return {k: v for k, v in data.items() if not k.startswith("_")}


def render(fp: Fingerprint) -> str:
    doc = {"_comment": "generated by scripts/update_fingerprint.py; " + HOW_TO_FIX, **fp}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def flatten(workflows: dict[str, dict[str, list[str]]]) -> list[str]:
    return [f"{wf}.{method}: {entry}" for wf, methods in sorted(workflows.items())
            for method, entries in sorted(methods.items()) for entry in entries]


def difference(expected: dict[str, dict[str, list[str]]], actual: dict[str, dict[str, list[str]]],
               filename: str) -> str | None:
    """None when equal; otherwise the instruction and a unified diff of the command lists."""
    if expected == actual:
        return None
    diff = "\n".join(difflib.unified_diff(flatten(expected), flatten(actual), "baseline", filename, lineterm=""))
    return f"{filename}: {HOW_TO_FIX}\n{diff}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the baseline instead of writing it")
    args = parser.parse_args(argv)
    current = fingerprint()
    if args.check:
        baseline = load_baseline()
        problems = [d for f in sorted(set(current) | set(baseline))
                    if (d := difference(baseline.get(f, {}), current.get(f, {}), f))]
        print("\n\n".join(problems) if problems else "workflow fingerprint matches the baseline")
        return 1 if problems else 0
    BASELINE.write_text(render(current))
    print(f"wrote {BASELINE.relative_to(ROOT)}: "
          + ", ".join(f"{wf} ({sum(len(v) for v in ms.values())} commands)"
                      for f in current.values() for wf, ms in f.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
