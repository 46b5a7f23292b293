"""The arithmetic of the benchmark report: percentiles, ratios, the compute bound.

Pure functions on plain numbers, so the unit tests pin down exactly what the report's
columns mean:

* **docs/s** of a sequential run is ``documents / wall seconds``; of a served run it is
  what perf_analyzer measured.
* **compute bound**: every stage's cost in *core-seconds per document*, measured on one
  core; the machine's ``cores`` can at best do ``cores / sum(costs)`` documents per second
  if nothing but those stages ran (no server, no client, no copies, no idle core).
* **fraction of bound** = served docs/s / compute bound.
* **overhead at concurrency 1** = served p50 latency - median over pages of the sum of
  the stage latencies (as the served configuration runs them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), linear interpolation; NaN for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be in 0..100, got {q}")
    if len(values) == 0:
        return math.nan
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


@dataclass(frozen=True)
class LatencySummary:
    """Latency percentiles in seconds."""

    p50: float
    p95: float
    p99: float
    mean: float
    count: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> LatencySummary:
        values = [float(v) for v in seconds]
        if any(v < 0 or not math.isfinite(v) for v in values):
            raise ValueError("latencies must be finite and non-negative")
        mean = float(np.mean(values)) if values else math.nan
        return cls(percentile(values, 50), percentile(values, 95), percentile(values, 99), mean, len(values))

    def as_ms(self) -> dict[str, float]:
        return {
            "p50_ms": self.p50 * 1e3,
            "p95_ms": self.p95 * 1e3,
            "p99_ms": self.p99 * 1e3,
            "mean_ms": self.mean * 1e3,
            "count": self.count,
        }


def throughput(documents: int, seconds: float) -> float:
    """Documents per second of a run that processed ``documents`` in ``seconds`` of wall time."""
    if documents < 0:
        raise ValueError("documents must be >= 0")
    if seconds <= 0:
        raise ValueError("seconds must be > 0")
    return documents / seconds


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; NaN when either is missing, zero or not finite."""
    if not (math.isfinite(numerator) and math.isfinite(denominator)) or denominator <= 0:
        return math.nan
    return numerator / denominator


def compute_bound(stage_core_seconds: Mapping[str, float], cores: int) -> float:
    """Most documents per second ``cores`` cores can do when a document costs the sum of
    ``stage_core_seconds`` (core-seconds per document, each stage measured on one core)."""
    if cores < 1:
        raise ValueError("cores must be >= 1")
    if not stage_core_seconds:
        raise ValueError("no stage costs")
    costs = list(stage_core_seconds.values())
    if any(c < 0 or not math.isfinite(c) for c in costs):
        raise ValueError(f"stage costs must be finite and non-negative: {dict(stage_core_seconds)}")
    total = sum(costs)
    if total <= 0:
        raise ValueError("the stages cost nothing: no bound")
    return cores / total


def per_document_mean(per_page: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """Mean cost per document of each stage, from per-page measurements."""
    out = {}
    for stage, values in per_page.items():
        if len(values) == 0:
            raise ValueError(f"stage {stage!r} has no measurements")
        out[stage] = float(np.mean(values))
    return out


def per_page_totals(per_page: Mapping[str, Sequence[float]]) -> list[float]:
    """The sum of all stages for each page (all stages must cover the same pages)."""
    lengths = {len(v) for v in per_page.values()}
    if len(lengths) != 1:
        raise ValueError(f"stages cover different numbers of pages: { {k: len(v) for k, v in per_page.items()} }")
    return [float(sum(values)) for values in zip(*per_page.values())]


def overhead_seconds(p50_latency: float, stage_latencies_per_page: Mapping[str, Sequence[float]]) -> float:
    """Served p50 latency minus the median page's summed stage latency (may be negative: noise)."""
    return p50_latency - percentile(per_page_totals(stage_latencies_per_page), 50)


@dataclass(frozen=True)
class Targets:
    """The targets of issues 5 and 24 (real pages), as thresholds."""

    min_speedup_vs_naive: float = 2.0
    min_fraction_of_bound: float = 0.90
    max_overhead_ms: float = 50.0
    max_served_cpu_vs_stages: float = 1.10

    def check(
        self,
        speedup_vs_naive: float,
        fraction_of_bound: float,
        overhead_ms: float,
        served_cpu_vs_stages: float = math.nan,
    ) -> dict[str, dict]:
        def row(value, threshold, ok):
            return {"value": value, "threshold": threshold, "met": bool(ok) if math.isfinite(value) else False}

        return {
            "speedup_vs_naive": row(
                speedup_vs_naive, self.min_speedup_vs_naive, speedup_vs_naive >= self.min_speedup_vs_naive
            ),
            "fraction_of_bound": row(
                fraction_of_bound, self.min_fraction_of_bound, fraction_of_bound >= self.min_fraction_of_bound
            ),
            "overhead_ms_at_concurrency_1": row(overhead_ms, self.max_overhead_ms, overhead_ms <= self.max_overhead_ms),
            "served_cpu_vs_stages": row(
                served_cpu_vs_stages,
                self.max_served_cpu_vs_stages,
                served_cpu_vs_stages <= self.max_served_cpu_vs_stages,
            ),
        }

    def as_dict(self) -> dict:
        return asdict(self)


def served_cpu_vs_stages(server_cpu_per_doc: Sequence[float | None], stage_sum: float) -> float:
    """The highest served CPU per document, over the concurrency levels, as a multiple of the
    summed stage costs: how much work the server adds to the stages' own (1.0: none).
    CPU time, unlike docs/s, barely moves when other work shares the machine."""
    ratios = [ratio(v, stage_sum) for v in server_cpu_per_doc if v is not None]
    ratios = [r for r in ratios if math.isfinite(r)]
    return max(ratios) if ratios else math.nan


def best(points: Iterable[tuple[float, object]]) -> tuple[float, object]:
    """The (value, item) with the highest finite value."""
    finite = [(v, item) for v, item in points if math.isfinite(v)]
    if not finite:
        raise ValueError("no finite values")
    return max(finite, key=lambda p: p[0])
