"""The shape of the code: no import cycles, dependencies pointing one way, rooms small enough to read."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.architecture.imports import ROOT, Module, cycles, product_modules

# who may import whom, by top-level package (the composition root, workers, may import everything)
ALLOWED: dict[str, set[str]] = {
    "domain": {"policies"},  # activity inputs carry the resolved program the policy produced
    "policies": {"domain"},
    "reporting": {"domain", "policies"},
    "workflows": {"domain", "policies", "activities"},  # activities by typed reference, passed through
    "activities": {"domain", "policies", "connectors"},
    "connectors": {"domain", "policies"},
    "workers": {"domain", "policies", "reporting", "workflows", "activities", "connectors"},
}
MAX_WORKER_LINES = 400


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    return product_modules()


def test_there_is_no_import_cycle(modules: dict[str, Module]) -> None:
    # function-level imports count too: deferring an import must never be what keeps a cycle out of sight
    assert cycles(modules) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    a = Module("a", ROOT, imports={"b"})
    b = Module("b", ROOT, imports={"c"})
    c = Module("c", ROOT, imports={"a"})
    assert cycles({"a": a, "b": b, "c": c}) == [["a", "b", "c"]]
    assert cycles({"a": a, "b": Module("b", ROOT)}) == []


def test_dependencies_point_one_way(modules: dict[str, Module]) -> None:
    wrong = sorted(
        f"{m.name} imports {target}"
        for m in modules.values()
        for target in m.imports
        if (src := m.name.split(".")[0]) != (dst := target.split(".")[0]) and dst not in ALLOWED[src]
    )
    assert wrong == []


def test_no_room_in_workers_is_too_big_to_read() -> None:
    sizes = {p.relative_to(ROOT).as_posix(): len(p.read_text().splitlines())
             for p in (ROOT / "workers").rglob("*.py")}
    assert {path: n for path, n in sizes.items() if n > MAX_WORKER_LINES} == {}


def _loaded_by(argv: list[str], heavy: tuple[str, ...]) -> tuple[str, list[str]]:
    """What `noshow <argv>` prints, and which of the `heavy` modules it imported."""
    probe = (f"import sys\nfrom workers.cli.main import main\n"
             f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
             f"heavy = {heavy!r}\n"
             "print('loaded:' + ','.join(sorted(m for m in sys.modules if m in heavy or m.split('.')[0] in heavy)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    *printed, loaded = out.stdout.strip().splitlines()
    return "\n".join(printed), [m for m in loaded.removeprefix("loaded:").split(",") if m]


def test_the_command_line_help_imports_nothing_heavy() -> None:
    """`noshow --help` must answer at once: no Temporal, SQLAlchemy, FastAPI, provider SDK or policy engine."""
    printed, loaded = _loaded_by(["--help"], ("temporalio", "sqlalchemy", "fastapi", "twilio", "sendgrid", "yaml",
                                              "policies", "httpx"))
    assert "Commands" in printed
    assert loaded == []


def test_the_reply_explainer_imports_only_the_reply_reader() -> None:
    """`noshow explain reply` answers at once: the reply reader, not the policy schema, linter or any server."""
    printed, loaded = _loaded_by(
        ["explain", "reply", "--text", "can we do tuesday at 3", "--now", "2026-12-02T10:00:00Z"],
        ("temporalio", "sqlalchemy", "fastapi", "httpx", "yaml", "policies.schema", "policies.messages",
         "policies.loader"))
    assert '"intent"' in printed
    assert loaded == []
