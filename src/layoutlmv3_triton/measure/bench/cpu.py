"""CPU time of a process group (tritonserver and its python-backend stubs) and of the machine.

The served runs report, besides docs/s, the CPU-seconds the server spent per document:
compared with the summed stage costs it shows how much of the gap to the compute
bound is extra work (serialization, copies, spinning threads) and how much is idle
cores.  Linux only; elsewhere the numbers are absent.  /proc is read by local.procfs only.
"""

from __future__ import annotations

import resource

from layoutlmv3_triton.local.procfs import group_cpu_seconds, machine_busy_seconds  # noqa: F401 (bench API)


def children_cpu_seconds() -> float:
    """user+system seconds of this process's waited-for children (perf_analyzer runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu_seconds() -> float:
    """CPU-seconds of this process and every child it has waited for (the server and its stubs,
    perf_analyzer, tesseract subprocesses)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime + children_cpu_seconds()


def other_cpu_share(machine_start: float | None, own_start: float, wall_seconds: float, cores: int) -> float | None:
    """Share of the machine's CPU capacity that other processes used since the two starts.

    Why not the load average: it counts the benchmark's own work, so a quiet machine running
    the benchmark looks busy.  The machine's busy time minus our own is what others took.
    """
    machine_now = machine_busy_seconds()
    if machine_start is None or machine_now is None or wall_seconds <= 0 or cores < 1:
        return None
    others = (machine_now - machine_start) - (own_cpu_seconds() - own_start)
    return max(0.0, others) / (wall_seconds * cores)
