"""Experiments: deterministic arm assignment (pure, for the workflow) and the lift statistics (pure).

No I/O, no clock, no randomness source other than a hash, so a workflow can call `assign_arm` through the
sandbox passthrough and get the same arm on every replay.
"""

from __future__ import annotations

import hashlib
import math

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


class Interval(BaseModel):
    estimate: float
    low: float
    high: float


def wilson(successes: int, n: int, z: float = 1.959963984540054) -> Interval:
    """Wilson score interval for a proportion (95 % by default)."""
    if n <= 0:
        raise ValueError("a proportion needs at least one trial")
    if not 0 <= successes <= n:
        raise ValueError("successes must lie between 0 and n")
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return Interval(estimate=p, low=max(0.0, centre - half), high=min(1.0, centre + half))


def lift_interval(x1: int, n1: int, x0: int, n0: int, z: float = 1.959963984540054) -> Interval:
    """Difference p1 - p0 (arm minus holdout) with Newcombe's hybrid score interval (his method 10).

    Chosen over Wald because it stays inside [-1, 1] and keeps its coverage with small arms and rates near 0,
    which is exactly where a holdout's recovery rate sits.
    """
    a, b = wilson(x1, n1, z), wilson(x0, n0, z)
    d = a.estimate - b.estimate
    low = d - math.sqrt((a.estimate - a.low) ** 2 + (b.high - b.estimate) ** 2)
    high = d + math.sqrt((a.high - a.estimate) ** 2 + (b.estimate - b.low) ** 2)
    return Interval(estimate=d, low=low, high=high)
