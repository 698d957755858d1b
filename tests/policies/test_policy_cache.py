"""The processes' policy: parsed once, re-read only when its file changes (the file's stat stands for its bytes)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import workers.dependencies as dependencies
from policies.loader import PolicyError, default_policy_path
from policies.schema import PolicyFile
from tests.helpers import local_settings
from workers.dependencies import Dependencies, build_dependencies

DEFAULT_TEXT = default_policy_path().read_text(encoding="utf-8")
VERSION_LINE = next(line for line in DEFAULT_TEXT.splitlines() if line.startswith("version:"))


def with_version(version: str) -> str:
    return DEFAULT_TEXT.replace(VERSION_LINE, f'version: "{version}"', 1)


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(with_version("v-one"), encoding="utf-8")
    return path


@pytest.fixture
def deps(tmp_path: Path, policy_file: Path) -> Dependencies:
    return build_dependencies(local_settings(tmp_path / "data", policy_file=policy_file))


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch, policy_file: Path, deps: Dependencies) -> list[str]:
    """Every read of the policy file once `deps` is built (its build reads the file once of its own)."""
    seen: list[str] = []
    read_text, read_bytes = Path.read_text, Path.read_bytes

    def counted_text(self: Path, *args: object, **kwargs: object) -> str:
        if self == policy_file:
            seen.append("text")
        return read_text(self, *args, **kwargs)  # type: ignore[arg-type]

    def counted_bytes(self: Path) -> bytes:
        if self == policy_file:
            seen.append("bytes")
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_text", counted_text)
    monkeypatch.setattr(Path, "read_bytes", counted_bytes)
    return seen


def test_an_unchanged_file_is_not_read_again(deps: Dependencies, reads: list[str]) -> None:
    first = deps.policy()
    assert first.version == "v-one"
    assert len(reads) == 1  # the first parse
    for _ in range(5):
        assert deps.policy() is first
    assert len(reads) == 1


def test_an_edit_in_place_is_seen_by_the_next_call(deps: Dependencies, policy_file: Path) -> None:
    assert deps.policy().version == "v-one"
    policy_file.write_text(with_version("v-two-longer"), encoding="utf-8")
    assert deps.policy().version == "v-two-longer"
    assert deps.policy().version == "v-two-longer"


def test_a_file_replaced_with_the_same_size_and_time_is_seen(deps: Dependencies, policy_file: Path) -> None:
    """A deployment that swaps the file by rename (a config map, an atomic write) keeps neither inode nor bytes,
    even when size and modification time happen to match."""
    assert deps.policy().version == "v-one"
    before = policy_file.stat()
    staged = policy_file.with_name("policy.yaml.new")
    staged.write_text(with_version("v-two"), encoding="utf-8")
    os.utime(staged, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert staged.stat().st_size == before.st_size
    os.replace(staged, policy_file)
    assert deps.policy().version == "v-two"


def test_a_broken_edit_is_reported_and_the_fixed_file_loads(deps: Dependencies, policy_file: Path) -> None:
    assert deps.policy().version == "v-one"
    policy_file.write_text("version: [unclosed\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"policy\.yaml"):
        deps.policy()
    policy_file.write_text(with_version("v-three"), encoding="utf-8")
    assert deps.policy().version == "v-three"


def test_a_burst_of_first_calls_parses_once(deps: Dependencies, monkeypatch: pytest.MonkeyPatch) -> None:
    parses: list[PolicyFile] = []
    real = dependencies.load_policy

    def counted(path: str | Path | None = None) -> PolicyFile:
        policy = real(path)
        parses.append(policy)
        return policy

    monkeypatch.setattr(dependencies, "load_policy", counted)
    start = threading.Barrier(8)
    got: list[PolicyFile] = []

    def call() -> None:
        start.wait()
        got.append(deps.policy())

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(parses) == 1
    assert len(got) == 8 and all(p is parses[0] for p in got)
