"""A short soak (about 25 s) against the session server through the CLI: perf_analyzer at
concurrency 16, no failed request, RSS per process, and the JSON / Markdown / PNG report.
The 30-minute run that judges memory is a benchmark (`make soak`, docs/memory.md), not a test."""

from __future__ import annotations

import json

import bad_inputs

from layoutlmv3_triton.cli import main


def test_short_soak_reports_no_failures(triton_server, tmp_path):
    page = tmp_path / "page.png"
    page.write_bytes(bad_inputs.good_png())  # a small page: many requests in a short run
    out = tmp_path / "soak"
    code = main(
        [
            "soak",
            "--minutes",
            "0.4",
            "--sample-seconds",
            "4",
            "--url",
            triton_server.grpc_url,
            "--metrics-url",
            f"127.0.0.1:{triton_server.metrics_port}",
            "--server-pid",
            str(triton_server.process.pid),
            "--documents",
            str(page),
            "--output",
            str(out),
        ]
    )
    report = json.loads((out / "soak.json").read_text())
    summary = report["summary"]
    assert code == 0, summary
    assert summary["failed"] == 0 and summary["succeeded"] > 0 and not summary["perf_analyzer_errors"]
    assert report["config"]["concurrency"] == 16
    samples = report["samples"]
    assert len(samples) >= 4 and samples[-1]["t"] >= 20
    assert all(s["rss_mib"] > 100 for s in samples)  # tritonserver + 4 stubs
    names = set(samples[-1]["processes"])  # RSS per process, the stubs by instance name
    assert "tritonserver" in names and any(n.startswith("layoutlmv3_preprocess_") for n in names), names
    assert all(0 < samples[-1]["anon_mib"][n] <= samples[-1]["processes"][n] for n in names)
    assert "mapped in" in report["config"]["allocator"] or "glibc" in report["config"]["allocator"]
    assert summary["rss_flat"] is None  # too short to judge memory growth
    assert "**0 failed**" in (out / "soak.md").read_text()
    assert (out / "soak.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert triton_server.is_ready()
