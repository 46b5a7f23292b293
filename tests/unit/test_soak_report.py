"""Soak bookkeeping without a server: metrics parsing, the memory verdict, the reports."""

from __future__ import annotations

import json

from layoutlmv3_triton import contract
from layoutlmv3_triton.measure.soak import Sample, SoakReport, parse_metrics, summarize
from layoutlmv3_triton.measure.soak_report import write_outputs

METRICS = f"""# HELP nv_inference_request_success Number of successful inference requests
nv_inference_request_success{{model="{contract.ENSEMBLE}",version="1"}} 80
nv_inference_request_success{{model="{contract.PREPROCESS}",version="1"}} 82
nv_inference_request_failure{{model="{contract.ENSEMBLE}",reason="OTHER",version="1"}} 4
nv_inference_request_failure{{model="{contract.ENSEMBLE}",reason="REJECTED",version="1"}} 2
nv_inference_request_duration_us{{model="{contract.ENSEMBLE}",version="1"}} 2.5e+06
nv_inference_count{{model="{contract.ENSEMBLE}",version="1"}} 80
"""


def samples(rss, every_s=10.0, failed=0, stub=None):
    """One sample every ``every_s`` seconds, 10 requests each; tritonserver holds ``rss``, the
    stub ``stub`` (flat at 500 MiB when not given)."""
    stub = stub or [500.0] * len(rss)
    return [
        Sample(
            t=(i + 1) * every_s,
            success=10 * (i + 1),
            failure=failed,
            docs_per_s=1.0,
            failed_in_window=0,
            mean_latency_ms=100.0,
            rss_mib=v + w,
            processes={"tritonserver": v, "layoutlmv3_model_0_0": w},
            anon_mib={"tritonserver": v / 2, "layoutlmv3_model_0_0": w / 2},
        )
        for i, (v, w) in enumerate(zip(rss, stub))
    ]


def test_parse_metrics_sums_the_ensemble_only():
    assert parse_metrics(METRICS) == {"success": 80.0, "failure": 6.0, "duration_us": 2.5e6}


def test_flat_memory_passes_and_growth_fails():
    flat = summarize(samples([1000 + (i % 3) for i in range(30)]), 300, 0, 300, [])
    assert flat["rss_flat"] is True and flat["verdict"] == "pass"
    leak = summarize(samples([1000 + 10 * i for i in range(30)]), 300, 0, 300, [])  # 60 MiB/min
    assert leak["rss_flat"] is False and leak["verdict"] == "fail"
    assert 55 < leak["rss_steady_growth_mib_per_min"] < 65
    assert leak["growing_processes"] == ["tritonserver"]
    assert leak["processes"]["tritonserver"]["mib_per_1000_requests"] == 1000.0  # 10 MiB per 10 requests


def test_every_process_is_judged_over_the_end_of_the_run():
    # 30 minutes: warm-up growth in the first 10 minutes is not judged, minutes 10..30 are.
    n = 180  # one sample every 10 s
    plateau = [min(1000 + 5 * i, 1300) for i in range(n)]  # +30 MiB/min, flat from minute 10
    slow_leak = [500 + 0.25 * i for i in range(n)]  # +1.5 MiB/min from start to end
    summary = summarize(samples(plateau, stub=slow_leak), 1800, 0, 1800, [])
    assert summary["memory_steady_from_s"] == 600 and summary["memory_steady_minutes"] == 20
    assert abs(summary["processes"]["tritonserver"]["mib_per_min"]) < 0.05
    assert summary["processes"]["layoutlmv3_model_0_0"]["mib_per_min"] == 1.5
    assert summary["growing_processes"] == ["layoutlmv3_model_0_0"] and summary["verdict"] == "fail"
    # 0.9 MiB/min is under the threshold of 1 MiB/min
    below = summarize(samples(plateau, stub=[500 + 0.15 * i for i in range(n)]), 1800, 0, 1800, [])
    assert below["rss_flat"] is True and below["verdict"] == "pass"


def test_failures_fail_and_short_runs_do_not_judge_memory():
    short = summarize(samples([1000, 1100, 1200]), 30, 0, 30, [])
    assert short["rss_flat"] is None and short["verdict"] == "pass"
    assert summarize(samples([1000] * 3), 30, 1, 30, [])["verdict"] == "fail"
    assert summarize(samples([1000] * 3), 30, 0, 30, ["Thread [0] had error: boom"])["verdict"] == "fail"


def test_reports_are_written(tmp_path):
    report = SoakReport(
        {
            "url": "127.0.0.1:1",
            "protocol": "grpc",
            "concurrency": 16,
            "duration_s": 300,
            "sample_s": 10,
            "cpu_count": 2,
            "loadavg_1m_at_start": 1.0,
        },
        samples([1000 + (i % 2) for i in range(30)]),
    )
    report.summary = summarize(report.samples, 300, 0, 300, [])
    paths = write_outputs(report, tmp_path)
    assert json.loads(paths["json"].read_text())["summary"]["verdict"] == "pass"
    markdown = paths["markdown"].read_text()
    assert "**0 failed**" in markdown and "| layoutlmv3_model_0_0 | 500.0 |" in markdown
    assert paths["plot"].read_bytes()[:4] == b"\x89PNG"


def test_runs_read_back_and_compare_side_by_side(tmp_path):
    from layoutlmv3_triton.cli import main

    for label, growth in (("before", 1.0), ("after", 0.0)):
        report = SoakReport(
            {
                "url": "u",
                "protocol": "grpc",
                "concurrency": 16,
                "duration_s": 300,
                "sample_s": 10,
                "cpu_count": 2,
                "loadavg_1m_at_start": 1.0,
            },
            samples([1000 + growth * i for i in range(30)]),
        )
        report.summary = summarize(report.samples, 300, 0, 300, [])
        write_outputs(report, tmp_path / label)
        again = SoakReport.from_dict(json.loads((tmp_path / label / "soak.json").read_text()))
        assert again.samples == report.samples and again.summary == report.summary
    assert (
        main(
            [
                "soak",
                "--compare",
                f"glibc={tmp_path / 'before' / 'soak.json'}",
                f"jemalloc={tmp_path / 'after' / 'soak.json'}",
                "--output",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert (tmp_path / "soak-compare.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["soak", "--compare", "no-label", "--output", str(tmp_path)]) == 2
