"""The benchmark's arithmetic: percentiles, ratios, the compute bound, overhead, targets,
and the parsing of perf_analyzer's output."""

from __future__ import annotations

import math

import pytest

from layoutlmv3_triton.measure.bench import metrics
from layoutlmv3_triton.measure.bench.perf import latency_from_csv, parse_server_breakdown
from layoutlmv3_triton.measure.bench.runner import word_agreement


def test_percentile_interpolates_and_handles_empty():
    assert metrics.percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert metrics.percentile([5.0], 99) == 5.0
    assert math.isnan(metrics.percentile([], 50))
    with pytest.raises(ValueError):
        metrics.percentile([1.0], 101)


def test_latency_summary_in_ms():
    summary = metrics.LatencySummary.of([0.1] * 98 + [0.2, 1.0])
    assert summary.p50 == pytest.approx(0.1)
    assert summary.count == 100
    ms = summary.as_ms()
    assert ms["p50_ms"] == pytest.approx(100.0)
    assert ms["mean_ms"] == pytest.approx((0.1 * 98 + 1.2) / 100 * 1e3)
    with pytest.raises(ValueError):
        metrics.LatencySummary.of([-1.0])


def test_throughput_and_ratio():
    assert metrics.throughput(10, 4.0) == 2.5
    with pytest.raises(ValueError):
        metrics.throughput(1, 0.0)
    assert metrics.ratio(3.0, 1.5) == 2.0
    assert math.isnan(metrics.ratio(1.0, 0.0))
    assert math.isnan(metrics.ratio(float("nan"), 1.0))


def test_compute_bound_is_cores_over_summed_core_seconds():
    costs = {"ocr": 0.30, "encode": 0.02, "model": 0.45, "decode": 0.03}  # 0.8 core-s per document
    assert metrics.compute_bound(costs, cores=2) == pytest.approx(2 / 0.8)
    assert metrics.compute_bound(costs, cores=1) == pytest.approx(1.25)
    with pytest.raises(ValueError):
        metrics.compute_bound(costs, cores=0)
    with pytest.raises(ValueError):
        metrics.compute_bound({}, cores=2)
    with pytest.raises(ValueError):
        metrics.compute_bound({"ocr": -0.1, "model": 0.5}, cores=2)
    with pytest.raises(ValueError):
        metrics.compute_bound({"ocr": 0.0}, cores=2)


def test_headline_ratios_from_one_run():
    naive, per_request, ensemble = 0.8, 1.1, 2.4
    bound = metrics.compute_bound({"ocr": 0.3, "model": 0.45, "rest": 0.05}, cores=2)  # 2.5 docs/s
    assert metrics.ratio(ensemble, naive) == pytest.approx(3.0)
    assert metrics.ratio(ensemble, per_request) == pytest.approx(2.4 / 1.1)
    assert metrics.ratio(ensemble, bound) == pytest.approx(0.96)


def test_per_document_means_and_page_totals():
    per_page = {"ocr": [0.2, 0.4], "model": [0.5, 0.7], "decode": [0.01, 0.03]}
    assert metrics.per_document_mean(per_page) == pytest.approx({"ocr": 0.3, "model": 0.6, "decode": 0.02})
    assert metrics.per_page_totals(per_page) == pytest.approx([0.71, 1.13])
    with pytest.raises(ValueError):
        metrics.per_page_totals({"ocr": [0.1], "model": [0.1, 0.2]})
    with pytest.raises(ValueError):
        metrics.per_document_mean({"ocr": []})


def test_overhead_is_p50_minus_median_page_stage_sum():
    per_page = {"ocr": [0.30, 0.20, 0.40], "model": [0.40, 0.30, 0.50]}  # totals 0.7, 0.5, 0.9 -> median 0.7
    assert metrics.overhead_seconds(0.708, per_page) == pytest.approx(0.008)
    assert metrics.overhead_seconds(0.69, per_page) == pytest.approx(-0.01)


def test_targets():
    targets = metrics.Targets()
    met = targets.check(speedup_vs_naive=2.1, fraction_of_bound=0.93, overhead_ms=7.5, served_cpu_vs_stages=1.04)
    assert all(t["met"] for t in met.values())
    missed = targets.check(speedup_vs_naive=1.9, fraction_of_bound=0.5, overhead_ms=51.0, served_cpu_vs_stages=1.2)
    assert not any(t["met"] for t in missed.values())
    assert targets.check(float("nan"), 0.95, 1.0)["speedup_vs_naive"]["met"] is False
    assert missed["fraction_of_bound"]["threshold"] == 0.9
    assert targets.check(2.1, 0.93, 7.5)["served_cpu_vs_stages"]["met"] is False  # not measured: not met


def test_served_cpu_vs_stages_is_the_worst_level():
    assert metrics.served_cpu_vs_stages([1.0, 1.2, None, 1.1], 1.0) == pytest.approx(1.2)
    assert math.isnan(metrics.served_cpu_vs_stages([None], 1.0))


def test_best_point():
    value, item = metrics.best([(1.0, "a"), (float("nan"), "b"), (3.0, "c")])
    assert (value, item) == (3.0, "c")
    with pytest.raises(ValueError):
        metrics.best([(float("nan"), "x")])


def test_word_agreement_ignores_order():
    identical, shared = word_agreement([["a", "b", "c"], ["x", "y"]], [["a", "b", "c"], ["y", "x", "z"]])
    assert identical == 1
    assert shared == pytest.approx((3 + 2) / (3 + 3))


PERF_OUTPUT = """\
  Composing models:
  layoutlmv3_model, version: 1
      Inference count: 6
      Execution count: 4
      Successful request count: 6
      Avg request latency: 248806 usec (overhead 6 usec + queue 53738 usec + compute input 375 usec + compute infer 194554 usec + compute output 132 usec)

  layoutlmv3_preprocess, version: 1
      Inference count: 6
      Execution count: 6
      Avg request latency: 2075805 usec (overhead 5 usec + queue 3392 usec + compute input 124 usec + compute infer 2067830 usec + compute output 4453 usec)
"""  # noqa: E501 - perf_analyzer's own lines, verbatim


def test_parse_perf_analyzer_breakdown():
    out = parse_server_breakdown(PERF_OUTPUT)
    assert out["layoutlmv3_model"]["queue"] == 53738
    assert out["layoutlmv3_model"]["compute_infer"] == 194554
    assert out["layoutlmv3_model"]["execution_count"] == 4
    assert out["layoutlmv3_preprocess"]["latency"] == 2075805


def test_latency_from_perf_analyzer_csv_row_is_in_seconds():
    row = {"p50 latency": "700000", "p95 latency": "900000", "p99 latency": "950000", "Avg latency": "720000"}
    summary = latency_from_csv(row, count=48)
    assert (summary.p50, summary.p95, summary.p99, summary.mean, summary.count) == (0.7, 0.9, 0.95, 0.72, 48)


def test_other_cpu_share_leaves_out_our_own_work(monkeypatch):
    """The arithmetic on fixed readings: what the machine did minus what we did, per core-second
    (no live reading, so what else the machine is doing cannot move it)."""
    from layoutlmv3_triton.measure.bench import cpu

    monkeypatch.setattr(cpu, "machine_busy_seconds", lambda: 110.0)
    monkeypatch.setattr(cpu, "own_cpu_seconds", lambda: 11.0)
    assert cpu.other_cpu_share(100.0, 5.0, wall_seconds=5.0, cores=2) == pytest.approx(0.4)
    monkeypatch.setattr(cpu, "own_cpu_seconds", lambda: 20.0)  # we did more than the counter saw
    assert cpu.other_cpu_share(100.0, 5.0, wall_seconds=5.0, cores=2) == 0.0
    assert cpu.other_cpu_share(None, 5.0, 5.0, 2) is None
    assert cpu.other_cpu_share(100.0, 5.0, 0.0, 2) is None


def test_own_cpu_counts_finished_children():
    """CPU time, not wall time: a child's work shows up whatever else loads the cores."""
    import subprocess
    import sys

    from layoutlmv3_triton.measure.bench import cpu

    before = cpu.own_cpu_seconds()
    subprocess.run(
        [sys.executable, "-c", "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"],
        check=True,
    )
    assert cpu.own_cpu_seconds() - before >= 0.3
