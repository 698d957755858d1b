"""Experiments: the lift of each arm against the holdout, with confidence intervals (pure).

The arms and their deterministic assignment are part of the approved policy (policies/experiments.py).
"""

from __future__ import annotations

import math

from pydantic import BaseModel


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
