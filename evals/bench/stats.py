"""Summary statistics for `rag bench`: medians, percentiles of timings, rates and ratios.

Pure functions over lists of numbers; every bench module summarises its samples here so a
p95 or a median means the same thing in every section. Nothing is measured or printed here.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import numpy as np

from evals.bench.results import Percentiles


def median(values: Sequence[float]) -> float:
    """The median, or NaN for no values (a ratio of it is then visibly undefined)."""
    return float(statistics.median(values)) if values else float("nan")


def percentiles(samples_ms: Sequence[float]) -> Percentiles:
    """p50 / p95 / mean of millisecond samples (p95 by linear interpolation)."""
    arr = np.asarray(samples_ms, dtype=float)
    return Percentiles(
        p50_ms=round(float(np.percentile(arr, 50)), 2),
        p95_ms=round(float(np.percentile(arr, 95)), 2),
        mean_ms=round(float(arr.mean()), 2),
        n=len(arr),
    )


def rate(count: float, seconds: float, digits: int = 1) -> float | None:
    """count / seconds, rounded; None when no time passed."""
    return round(count / seconds, digits) if seconds else None


def ratio(numerator: float, denominator: float, digits: int = 2) -> float | None:
    """numerator / denominator, rounded; None when the denominator is zero."""
    return round(numerator / denominator, digits) if denominator else None
