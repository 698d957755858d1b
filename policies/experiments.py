"""Experiments in the approved policy: arms (one may be the no-contact holdout) and deterministic assignment.

No I/O, no clock, no randomness source other than a hash, so a workflow can call `assign_arm` through the
sandbox passthrough and get the same arm on every replay. Reporting measures each arm's lift
(reporting/experiments.py).
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field, model_validator

HOLDOUT = "holdout"  # the no-contact arm; reporting measures every other arm's lift against it


ARM_SEPARATOR = "/"  # the ledger's arm column holds "<experiment>/<arm>" (see `ledger_arm`)


class Arm(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    weight: float = Field(gt=0, le=1_000_000)
    template_id: str | None = None  # the first message's template for this arm (None: the policy's default)
    sequence: str | None = None  # or a whole sequence name

    @property
    def is_holdout(self) -> bool:
        return self.name == HOLDOUT


class Experiment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    arms: list[Arm] = Field(min_length=2, max_length=20)

    @model_validator(mode="after")
    def _check_arms(self) -> Experiment:
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"experiment {self.name!r}: arm names must be unique")
        if HOLDOUT not in names:
            raise ValueError(f"experiment {self.name!r} needs a no-contact arm named {HOLDOUT!r}")
        return self

    def arm(self, name: str) -> Arm:
        for arm in self.arms:
            if arm.name == name:
                return arm
        raise KeyError(name)


def assignment_point(case_id: str, experiment_name: str) -> float:
    """A uniform number in [0, 1) fixed by the case id and the experiment name (SHA-256, first 8 bytes)."""
    digest = hashlib.sha256(f"{experiment_name}\x1f{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_arm(case_id: str, experiment: Experiment) -> str:
    """The arm this case belongs to: the same answer for the same case and experiment, on every machine.

    Salting with the experiment name keeps two experiments' assignments independent of each other.
    """
    point = assignment_point(case_id, experiment.name) * sum(a.weight for a in experiment.arms)
    cumulative = 0.0
    for arm in experiment.arms:
        cumulative += arm.weight
        if point < cumulative:
            return arm.name
    return experiment.arms[-1].name  # only reachable through float rounding at the very top


def ledger_arm(experiment_name: str, arm: str) -> str:
    """The value to record in `LedgerEvent.arm`, so arms of concurrent experiments never mix in reports."""
    return f"{experiment_name}{ARM_SEPARATOR}{arm}"


def split_arm(value: str) -> tuple[str, str]:
    """("experiment", "arm") from a ledger arm value; a bare arm name belongs to experiment ""."""
    experiment, sep, arm = value.rpartition(ARM_SEPARATOR)
    return (experiment, arm) if sep else ("", value)
