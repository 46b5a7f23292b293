"""Heap snapshots in the steps: off by default, and a report of what grew when on."""

from __future__ import annotations

import tracemalloc

from layoutlmv3_triton.serving.steps.diagnostics import FILE_PARAMETER, INTERVAL_PARAMETER, HeapSnapshots


def test_off_by_default_and_tick_is_a_no_op():
    heap = HeapSnapshots.from_parameters("layoutlmv3_preprocess_0_0", {"other": "1"})
    assert not heap.enabled and heap.tick() is None


def test_snapshots_name_the_growing_allocation_site(tmp_path):
    now = [0.0]
    was_tracing = tracemalloc.is_tracing()
    heap = HeapSnapshots.from_parameters(
        "layoutlmv3_model_0_0", {INTERVAL_PARAMETER: "60", FILE_PARAMETER: str(tmp_path / "heap.txt")}
    )
    heap.clock = lambda: now[0]
    try:
        assert heap.tick() is None  # the first batch starts tracing
        kept = [bytearray(64 * 1024) for _ in range(16)]  # 1 MiB that stays
        assert heap.tick() is None  # not due yet
        now[0] = 61.0
        text = heap.tick()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    assert text == (tmp_path / "heap.txt").read_text()
    assert text.startswith("[tracemalloc layoutlmv3_model_0_0] traced")
    top = text.splitlines()[1]
    assert top.startswith("  +102") and top.split(" at ")[1].startswith("test_diagnostics.py") and len(kept) == 16
