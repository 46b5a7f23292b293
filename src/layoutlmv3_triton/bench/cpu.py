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
