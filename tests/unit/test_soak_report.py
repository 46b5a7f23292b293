"""Soak bookkeeping without a server: metrics parsing, the memory verdict, the reports."""
from __future__ import annotations

import json

from layoutlmv3_triton import contract
from layoutlmv3_triton.measure.soak import Sample, SoakReport, parse_metrics, summarize, write_outputs

METRICS = f"""# HELP nv_inference_request_success Number of successful inference requests
nv_inference_request_success{{model="{contract.ENSEMBLE}",version="1"}} 80
nv_inference_request_success{{model="{contract.PREPROCESS}",version="1"}} 82
nv_inference_request_failure{{model="{contract.ENSEMBLE}",reason="OTHER",version="1"}} 4
nv_inference_request_failure{{model="{contract.ENSEMBLE}",reason="REJECTED",version="1"}} 2
nv_inference_request_duration_us{{model="{contract.ENSEMBLE}",version="1"}} 2.5e+06
nv_inference_count{{model="{contract.ENSEMBLE}",version="1"}} 80
"""


def samples(rss, every_s=10.0, failed=0):
    return [Sample(t=(i + 1) * every_s, success=10 * (i + 1), failure=failed, docs_per_s=1.0, failed_in_window=0,
                   mean_latency_ms=100.0, rss_mib=v) for i, v in enumerate(rss)]


def test_parse_metrics_sums_the_ensemble_only():
    assert parse_metrics(METRICS) == {"success": 80.0, "failure": 6.0, "duration_us": 2.5e6}


def test_flat_memory_passes_and_growth_fails():
    flat = summarize(samples([1000 + (i % 3) for i in range(30)]), 300, 0, 300, [])
    assert flat["rss_flat"] is True and flat["verdict"] == "pass"
    leak = summarize(samples([1000 + 10 * i for i in range(30)]), 300, 0, 300, [])  # 60 MiB/min
    assert leak["rss_flat"] is False and leak["verdict"] == "fail"
    assert 55 < leak["rss_steady_growth_mib_per_min"] < 65


def test_failures_fail_and_short_runs_do_not_judge_memory():
    short = summarize(samples([1000, 1100, 1200]), 30, 0, 30, [])
    assert short["rss_flat"] is None and short["verdict"] == "pass"
    assert summarize(samples([1000] * 3), 30, 1, 30, [])["verdict"] == "fail"
    assert summarize(samples([1000] * 3), 30, 0, 30, ["Thread [0] had error: boom"])["verdict"] == "fail"


def test_reports_are_written(tmp_path):
    report = SoakReport({"url": "127.0.0.1:1", "protocol": "grpc", "concurrency": 16, "duration_s": 300,
                         "sample_s": 10, "cpu_count": 2, "loadavg_1m_at_start": 1.0},
                        samples([1000 + (i % 2) for i in range(30)]))
    report.summary = summarize(report.samples, 300, 0, 300, [])
    paths = write_outputs(report, tmp_path)
    assert json.loads(paths["json"].read_text())["summary"]["verdict"] == "pass"
    assert "**0 failed**" in paths["markdown"].read_text()
    assert paths["plot"].read_bytes()[:4] == b"\x89PNG"
