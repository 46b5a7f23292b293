"""Resident memory of a served model repository, per process, and what "flat" means.

The soak samples, every few seconds, the RSS of tritonserver and of each python-backend
stub by instance name (and their anonymous part: the heap an allocator keeps; the rest
is mapped files and the python backend's shared-memory region).

Flat, the soak's memory verdict: after warm-up, EVERY process grows by less than
FLAT_MIB_PER_MIN, as the least-squares slope over the last STEADY_MINUTES of the run
(or its last two thirds, when the run is shorter than 30 minutes).  A leak grows without
bound, allocator retention plateaus: a slope over the end of a long run tells them apart,
a total over the whole run does not.  Growth is also given per 1000 requests, because on
a shared machine the request rate, and so the growth per minute, varies from run to run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from layoutlmv3_triton.local.procfs import environ, maps_library, memory_status
from layoutlmv3_triton.local.supervisor import server_processes

MIB = 1024 * 1024
FLAT_MIB_PER_MIN = 1.0  # per process
STEADY_MINUTES = 20.0  # judged over the last 20 minutes ...
WARMUP_SHARE = 1 / 3  # ... but never the first third of the run (30 min -> minutes 10..30)
MIN_STEADY_MINUTES = 2.0  # a shorter steady part is too short to tell


class MemorySample(Protocol):
    t: float
    success: int
    processes: dict[str, float]


def sample_processes(server_pid: int) -> tuple[dict[str, float], dict[str, float]]:
    """(RSS, anonymous RSS) in MiB of tritonserver and each stub, by name."""
    rss, anon = {}, {}
    for pid, name in sorted(server_processes(server_pid).items(), key=lambda item: item[1]):
        status = memory_status(pid)
        if "VmRSS" in status:
            rss[name] = round(status["VmRSS"] / MIB, 1)
            anon[name] = round(status.get("RssAnon", 0) / MIB, 1)
    return rss, anon


def allocator_settings(server_pid: int) -> str:
    """The allocator settings the server runs with (LD_PRELOAD, glibc's MALLOC_* tunables), and
    in how many of its processes the preloaded library is really mapped."""
    env = environ(server_pid)
    found = {k: v for k, v in sorted(env.items()) if k == "LD_PRELOAD" or k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    text = ", ".join(f"{k}={v}" for k, v in found.items()) or "glibc malloc, default settings"
    preload = env.get("LD_PRELOAD", "").split(":")[0]
    if preload:
        processes = list(server_processes(server_pid))
        loaded = sum(maps_library(pid, Path(preload).name) for pid in processes)
        text += f" (mapped in {loaded} of {len(processes)} processes)"
    return text


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (x, y) points (0 when undefined)."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx, my = sum(p[0] for p in points) / n, sum(p[1] for p in points) / n
    var = sum((p[0] - mx) ** 2 for p in points)
    return 0.0 if var == 0 else sum((p[0] - mx) * (p[1] - my) for p in points) / var


def steady_start(end_s: float) -> float:
    """Where the judged part of a run that ended at ``end_s`` seconds begins."""
    return max(end_s - STEADY_MINUTES * 60, end_s * WARMUP_SHARE)


@dataclass
class Growth:
    start_mib: float  # first steady sample
    end_mib: float
    max_mib: float  # over the whole run
    mib_per_min: float
    mib_per_1000_requests: float | None  # None when no request completed in the steady part

    @property
    def flat(self) -> bool:
        return self.mib_per_min < FLAT_MIB_PER_MIN


def growth(samples: Iterable[MemorySample]) -> tuple[dict[str, Growth], float]:
    """Per-process growth over the steady part, and that part's length in minutes."""
    samples = [s for s in samples if s.processes]
    if not samples:
        return {}, 0.0
    begin = steady_start(samples[-1].t)
    steady = [s for s in samples if s.t >= begin]
    span_min = (steady[-1].t - steady[0].t) / 60
    names = sorted({name for s in samples for name in s.processes})
    out = {}
    for name in names:
        over_time = [(s.t / 60, s.processes[name]) for s in steady if name in s.processes]
        over_requests = [(s.success / 1000, s.processes[name]) for s in steady if name in s.processes]
        if not over_time:
            continue
        done = over_requests[-1][0] - over_requests[0][0]
        out[name] = Growth(
            over_time[0][1],
            over_time[-1][1],
            max(s.processes.get(name, 0.0) for s in samples),
            round(slope(over_time), 2),
            round(slope(over_requests), 2) if done > 0 else None,
        )
    return out, span_min


def memory_summary(samples: list[MemorySample]) -> dict:
    """The per-process figures and the flat verdict (None: too short to tell)."""
    per_process, span_min = growth(samples)
    if not per_process:
        return {}
    judged = span_min >= MIN_STEADY_MINUTES
    growing = [name for name, g in per_process.items() if not g.flat]
    return {
        "memory_steady_from_s": round(samples[-1].t - span_min * 60, 1),
        "memory_steady_minutes": round(span_min, 2),
        "memory_flat_threshold_mib_per_min": FLAT_MIB_PER_MIN,
        "processes": {name: vars(g) for name, g in per_process.items()},
        "growing_processes": growing if judged else [],
        "rss_flat": (not growing) if judged else None,
    }
