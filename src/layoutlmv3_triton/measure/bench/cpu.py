"""CPU time of a process group (tritonserver and its python-backend stubs), from /proc.

The served runs report, besides docs/s, the CPU-seconds the server spent per document:
compared with the summed stage costs it shows how much of the gap to the compute
bound is extra work (serialization, copies, spinning threads) and how much is idle
cores.  Linux only; elsewhere the numbers are absent.
"""
from __future__ import annotations

import os
import resource
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def group_cpu_seconds(pgid: int) -> float | None:
    """user+system seconds of the live processes in process group ``pgid`` (None off Linux)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    total = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) "
        # fields[0] is state (field 3); pgrp is field 5, utime 14, stime 15
        try:
            if int(fields[2]) != pgid:
                continue
            total += int(fields[11]) + int(fields[12])
        except (IndexError, ValueError):
            continue
    return total / _TICK


def children_cpu_seconds() -> float:
    """user+system seconds of this process's waited-for children (perf_analyzer runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy_seconds() -> float | None:
    """CPU-seconds all processes on the machine have spent so far, from /proc/stat (None off Linux)."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in first[1:9])
    return (user + nice + system + irq + softirq + steal) / _TICK


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
