"""The one reader of Linux /proc for the local server: process state, the process tree,
resident memory and CPU time.  The supervisor (is a stub alive?), the soak (RSS per
process) and the benchmark (CPU-seconds of the server) all read through here.

Every function answers None / empty / 0 for a process that is gone: processes exit
between two reads, and a sampler must not fail on that.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class ProcStat:
    """The fields of /proc/<pid>/stat we use."""

    state: str
    ppid: int
    pgrp: int
    cpu_ticks: int  # utime + stime


def stat(pid: int) -> ProcStat | None:
    """/proc/<pid>/stat, or None when the process is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name in (...) may hold spaces
    # fields[0] is field 3 of proc(5): state, ppid 4, pgrp 5, utime 14, stime 15
    return ProcStat(fields[0], int(fields[1]), int(fields[2]), int(fields[11]) + int(fields[12]))


def pids() -> list[int]:
    return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()] if PROC.is_dir() else []


def alive(pid: int) -> bool:
    found = stat(pid)
    return found is not None and found.state not in ("Z", "X")  # a killed, unreaped child is a zombie


def children(pid: int) -> list[int]:
    found = []
    for child in pids():
        child_stat = stat(child)
        if child_stat is not None and child_stat.ppid == pid:
            found.append(child)
    return found


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its live descendants."""
    tree, queue = [], [pid]
    while queue:
        current = queue.pop()
        if alive(current):
            tree.append(current)
            queue.extend(children(current))
    return tree


def cmdline(pid: int) -> list[str]:
    """argv of a process ([] when it is gone)."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]


def environ(pid: int) -> dict[str, str]:
    """The environment a process started with ({} when it is gone or not ours to read)."""
    try:
        raw = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.decode(errors="replace").partition("=") for item in raw.split(b"\0") if item)
    return {key: value for key, _, value in pairs}


def maps_library(pid: int, name: str) -> bool:
    """Whether a process has a library whose file name contains ``name`` mapped (e.g. a preload took)."""
    try:
        with open(PROC / str(pid) / "maps") as maps:
            return any(name in line.rsplit("/", 1)[-1] for line in maps)
    except OSError:
        return False


def rss_bytes(pids_: list[int]) -> int:
    """Resident memory of these processes (pages counted once per process)."""
    total = 0
    for pid in pids_:
        try:
            total += int((PROC / str(pid) / "statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def memory_status(pid: int) -> dict[str, int]:
    """RssAnon / RssFile / RssShmem / VmRSS of a process in bytes, from /proc/<pid>/status.

    Anon is the heap (what an allocator keeps); Shmem is the python backend's shared-memory
    region, mapped by tritonserver and the stub alike.
    """
    try:
        text = (PROC / str(pid) / "status").read_text()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
            out[key] = int(value.split()[0]) * 1024  # kB
    return out


def group_cpu_seconds(pgid: int) -> float | None:
    """user+system seconds of the live processes in process group ``pgid`` (None off Linux)."""
    if not PROC.is_dir():
        return None
    total = 0
    for pid in pids():
        found = stat(pid)
        if found is not None and found.pgrp == pgid:
            total += found.cpu_ticks
    return total / TICK


def machine_busy_seconds() -> float | None:
    """CPU-seconds all processes on the machine have spent so far, from /proc/stat (None off Linux)."""
    try:
        first = (PROC / "stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in first[1:9])
    return (user + nice + system + irq + softirq + steal) / TICK
