"""Python heap snapshots inside a step, for chasing memory growth under load (docs/memory.md).

Off by default.  A step's config.pbtxt turns them on with the parameter
``tracemalloc_interval_s`` (seconds between snapshots, 0 = off); ``tracemalloc_file`` names
a file to append to (default: the server log, through the stub's stderr).  Each snapshot
writes the traced total and the allocation sites that grew most since the first snapshot.

tracemalloc sees what Python allocates, numpy buffers included; native libraries
(onnxruntime, Tesseract, the Rust tokenizer) allocate outside it.  So a Python heap that
stays flat while the process grows points at native memory or the allocator.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

INTERVAL_PARAMETER = "tracemalloc_interval_s"
FILE_PARAMETER = "tracemalloc_file"
TOP = 15  # allocation sites per snapshot
FRAMES = 4  # call-stack depth kept per allocation: where in our code, not only in numpy


class HeapSnapshots:
    """Snapshots every ``interval_s`` seconds from ``tick()`` (a no-op when off)."""

    def __init__(
        self,
        label: str,
        interval_s: float = 0.0,
        path: str | Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.label, self.interval_s, self.path, self.clock = label, interval_s, path, clock
        self.first: tracemalloc.Snapshot | None = None
        self.last_at = 0.0

    @classmethod
    def from_parameters(cls, label: str, parameters: dict[str, str]) -> HeapSnapshots:
        interval = float(parameters.get(INTERVAL_PARAMETER, "") or 0)
        return cls(label, interval, parameters.get(FILE_PARAMETER) or None)

    @property
    def enabled(self) -> bool:
        return self.interval_s > 0

    def tick(self) -> str | None:
        """Take and write a snapshot when one is due; returns what was written.

        Tracing starts at the first call (the first batch): loading the model is not slowed
        down, and the baseline is a loaded, ready step."""
        if not self.enabled:
            return None
        if self.first is None:
            if not tracemalloc.is_tracing():
                tracemalloc.start(FRAMES)
            self.first, self.last_at = tracemalloc.take_snapshot(), self.clock()
            return None
        if self.clock() - self.last_at < self.interval_s:
            return None
        self.last_at = self.clock()
        text = self.report(tracemalloc.take_snapshot())
        if self.path:
            with open(self.path, "a") as out:
                out.write(text)
        else:
            sys.stderr.write(text)
            sys.stderr.flush()
        return text

    def report(self, snapshot: tracemalloc.Snapshot) -> str:
        current, peak = tracemalloc.get_traced_memory()
        lines = [
            f"[tracemalloc {self.label}] traced {current / 2**20:.1f} MiB (peak {peak / 2**20:.1f} MiB); "
            f"top growth since the first snapshot:"
        ]
        for diff in snapshot.compare_to(self.first, "traceback")[:TOP]:
            where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(diff.traceback))
            lines.append(
                f"  {diff.size_diff / 1024:+.1f} KiB ({diff.count_diff:+d} blocks) "
                f"now {diff.size / 1024:.1f} KiB at {where}"
            )
        return "\n".join(lines) + "\n"
