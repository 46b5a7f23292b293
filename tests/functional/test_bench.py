"""`layoutlmv3-triton bench` end to end on a tiny model: a real tritonserver, the real
perf_analyzer, two pages, both OCR engines (PP-OCR when the rapidocr wheel is installed).
Checks the report files and their headline fields."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(1200)


def ppocr_installed() -> bool:
    import importlib.metadata

    try:
        importlib.metadata.distribution("rapidocr")
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


ENGINES = ("tesseract", "ppocr") if ppocr_installed() else ("tesseract",)


@pytest.fixture(scope="module")
def bench_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench-report")
    work = tmp_path_factory.mktemp("bench-work")
    cmd = [
        sys.executable,
        "-m",
        "layoutlmv3_triton.cli",
        "bench",
        "--quick",
        "--preset",
        "tiny",
        "--pages",
        "2",
        "--concurrency",
        "1,2",
        "--passes",
        "1",
        "--output",
        str(out),
        "--work-dir",
        str(work),
        "--no-progress",
        "--ocr-engine",
        "both" if len(ENGINES) == 2 else "tesseract",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1140)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out, done.stdout


def test_report_files_exist(bench_report):
    out, _ = bench_report
    for name in ("bench.json", "bench.md", "bench.png", "perf_data.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (out / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_json_headline_fields_are_positive_floats(bench_report):
    out, _ = bench_report
    report = json.loads((out / "bench.json").read_text())
    for key in ("speedup_vs_naive", "speedup_vs_per_request", "fraction_of_bound"):
        value = report[key]
        assert isinstance(value, float) and math.isfinite(value) and value > 0, (key, value)
    assert report["speedup_vs_naive"] == pytest.approx(report["ensemble_docs_per_s"] / report["naive"]["docs_per_s"])
    assert report["speedup_vs_per_request"] == pytest.approx(
        report["ensemble_docs_per_s"] / report["per_request"]["docs_per_s"]
    )
    assert report["fraction_of_bound"] == pytest.approx(
        report["ensemble_docs_per_s"] / report["stages"]["compute_bound_docs_per_s"]
    )
    assert [p["concurrency"] for p in report["ensemble"]] == [1, 2]
    assert set(report["stages"]["core_seconds"]) == {"ocr", "encode", "model", "decode"}
    assert set(report["targets"]) == {
        "speedup_vs_naive",
        "fraction_of_bound",
        "overhead_ms_at_concurrency_1",
        "served_cpu_vs_stages",
    }
    assert report["served_cpu_vs_stages"] > 0 and report["naive"]["cpu_s_per_doc"] > 0
    assert report["quantization"]["pages"]["word_label_agreement"] > 0.5
    engines = report["ocr_engines"]
    assert tuple(engines) == ENGINES
    assert engines["tesseract"]["core_seconds"] == report["stages"]["core_seconds"]  # the headline is Tesseract's
    for _name, engine in engines.items():
        assert engine["ocr_cpu_s_per_page"] > 0 and engine["compute_bound_docs_per_s"] > 0
        assert [p["concurrency"] for p in engine["ensemble"]] == [1, 2]
        assert engine["gpu_host_ocr_bound_docs_per_s"]["16"] == pytest.approx(16 / engine["host_ocr_cpu_s_per_page"])
    if "ppocr" in engines:
        ppocr = engines["ppocr"]
        assert set(ppocr["core_seconds"]) == {"ocr", "detection", "recognition", "encode", "model", "decode"}
        assert ppocr["ocr_cpu_s_per_page"] == pytest.approx(
            ppocr["host_ocr_cpu_s_per_page"] + ppocr["ocr_networks_s_per_page"]
        )
        assert ppocr["mean_words"] > 0


def test_markdown_table_has_every_row(bench_report):
    out, stdout = bench_report
    text = (out / "bench.md").read_text()
    table = [line for line in text.splitlines() if line.startswith("| (")]
    for prefix in ("| (a) naive", "| (b) per-request", "| (c) this ensemble", "| (d) compute bound"):
        assert any(line.startswith(prefix) for line in table), prefix
    assert sum(line.startswith("| (c)") for line in table) == 2
    assert "docs/s" in text and "p99 ms" in text
    assert "## OCR engines" in text and all(f"| {engine} |" in text for engine in ENGINES)
    assert "speedup_vs_naive" in stdout
