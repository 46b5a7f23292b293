"""`layoutlmv3-triton evaluate` end to end: train a tiny model, serve it, score it through the server.

Kept cheap for 2 CPU cores (~1 minute): 12 synthetic training pages, 12 optimiser steps of
the tiny preset, 4 test pages.  The model is barely trained, so only the report's shape
and ranges are checked, not its quality.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

pytest.importorskip("lightning")
pytest.importorskip("seqeval")
pytest.importorskip("datasets")

F1_LINE = re.compile(r"entity_f1=[01]\.\d{4}")
N_TEST = 4


@pytest.fixture(scope="module")
def eval_data(tmp_path_factory):
    from layoutlmv3_triton.synth import write_dataset

    root = tmp_path_factory.mktemp("eval-synth")
    return write_dataset(root / "train", 12, seed=11), write_dataset(root / "test", N_TEST, seed=12)


@pytest.fixture(scope="module")
def trained_server(eval_data, tmp_path_factory):
    from layoutlmv3_triton.repository.writer import build_repository
    from layoutlmv3_triton.local.server import LocalTritonServer
    from layoutlmv3_triton.training import TrainConfig, train

    train_dir, test_dir = eval_data
    model_dir = tmp_path_factory.mktemp("eval-model")
    summary = train(TrainConfig(out=str(model_dir), data=str(train_dir), val_data=str(test_dir), from_scratch=True,
                                preset="tiny", vocab_size=600, max_steps=12, batch_size=4, lr=3e-3, progress=False,
                                threads=2))
    assert summary["global_steps"] == 12
    repo = tmp_path_factory.mktemp("eval-repository")
    build_repository(model_dir, repo)
    log_file = tmp_path_factory.mktemp("eval-triton-log") / "tritonserver.log"
    with LocalTritonServer(repo, log_file=log_file) as server:
        yield server
    assert server.process is None


def evaluate_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "layoutlmv3_triton.cli", "evaluate", *args],
                          capture_output=True, text=True, timeout=300)


def test_evaluate_grpc_end_to_end(trained_server, eval_data, tmp_path):
    report_path = tmp_path / "reports" / "eval.json"
    proc = evaluate_cli("--url", trained_server.grpc_url, "--data", str(eval_data[1]), "--concurrency", "2",
                        "--output", str(report_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert F1_LINE.fullmatch(lines[-1]), lines[-5:]
    assert "overall" in proc.stdout and "OCR word recall" in proc.stdout
    assert "evaluate" in proc.stderr  # the progress bar

    report = json.loads(report_path.read_text())
    for key in ("entity", "per_label", "macro_f1", "ocr_word_recall", "word_accuracy", "gt_words",
                "matched_gt_words", "pages", "pages_failed", "matching", "errors", "per_page", "seconds"):
        assert key in report, key
    entity = report["entity"]
    assert 0.0 <= entity["f1"] <= 1.0 and 0.0 <= entity["precision"] <= 1.0 and 0.0 <= entity["recall"] <= 1.0
    assert lines[-1] == f"entity_f1={entity['f1']:.4f}"
    assert report["pages"] == N_TEST and report["pages_failed"] == 0 and report["errors"] == []
    assert entity["gold"] > 0 and set(report["per_label"]) <= {"HEADER", "QUESTION", "ANSWER"}
    # synthetic pages are rendered for Tesseract: nearly every ground-truth word is read
    assert report["ocr_word_recall"] >= 0.8, report["ocr_word_recall"]
    assert report["model_labels"] == report["dataset_labels"]
    assert report["matching"]["min_cover"] == 0.5


def test_evaluate_http_with_limit(trained_server, eval_data, tmp_path, capsys):
    from layoutlmv3_triton.cli import main

    report_path = tmp_path / "eval-http.json"
    rc = main(["evaluate", "--url", trained_server.http_url, "--protocol", "http", "--data", str(eval_data[1]),
               "--limit", "2", "--no-progress", "--output", str(report_path)])
    out = capsys.readouterr().out
    assert rc == 0
    assert F1_LINE.fullmatch(out.strip().splitlines()[-1])
    report = json.loads(report_path.read_text())
    assert report["pages"] == 2 and report["protocol"] == "http"
    assert [p["id"] for p in report["per_page"]] == ["12-0", "12-1"] or len(report["per_page"]) == 2


def test_evaluate_unreachable_server_exits_2(eval_data):
    from layoutlmv3_triton.local.server import free_port

    proc = evaluate_cli("--url", f"127.0.0.1:{free_port()}", "--data", str(eval_data[1]), "--no-progress",
                        "--timeout", "5")
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "entity_f1" not in proc.stdout
