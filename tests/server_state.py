"""What a running tritonserver is doing, for tests that must wait on it: its /metrics
counters and the CPU time of its python-backend stubs, polled with a deadline.

Tests wait on these instead of sleeping: a fixed sleep is too short on a loaded machine
and too long on an idle one."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Callable

from layoutlmv3_triton.local import procfs
from layoutlmv3_triton.local.supervisor import stub_processes

POLL_S = 0.05
_SAMPLE = re.compile(r"^(\w+)\{([^}]*)\}\s+(\S+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def metric(server, name: str, **labels: str) -> float:
    """The sum of one counter or gauge of Triton's /metrics over the series matching ``labels``."""
    with urllib.request.urlopen(f"http://{server.host}:{server.metrics_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        match = _SAMPLE.match(line.strip())
        if match and match.group(1) == name and labels.items() <= dict(_LABEL.findall(match.group(2))).items():
            total += float(match.group(3))
    return total


def wait_for(condition: Callable[[], bool], what: str, deadline_s: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail the test, saying ``what``, after ``deadline_s``."""
    deadline = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {deadline_s:g} s waiting for {what}")
        time.sleep(POLL_S)


def stub_cpu_seconds(server, model: str) -> float:
    """CPU seconds the live stubs of ``model`` have spent so far."""
    ticks = 0
    for pid, name in stub_processes(server.process.pid).items():
        found = procfs.stat(pid) if name == model else None
        ticks += found.cpu_ticks if found else 0
    return ticks / procfs.TICK


def wait_until_working(server, model: str, cpu_s: float = 0.3, deadline_s: float = 60.0) -> None:
    """Wait until ``model``'s stubs have spent ``cpu_s`` more CPU: a request is executing there
    (an idle stub spends next to none)."""
    start = stub_cpu_seconds(server, model)
    wait_for(
        lambda: stub_cpu_seconds(server, model) - start >= cpu_s,
        f"{model} to start working ({cpu_s:g} s of CPU)",
        deadline_s,
    )
