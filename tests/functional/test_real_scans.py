"""Real scans and segment boxes on a real tritonserver.

- Served output equals the in-process pipeline's when the preprocess gives each word its
  line's box (``ocr_box_level=line``, as build-repo sets it from a model's config.json).
- A handful of real FUNSD forms (from ``$FUNSD_DIR``; skipped without it) come back with
  most of their words: floors on word recall by box and by box and text, so that OCR
  quality cannot regress unnoticed.  The floors sit a few points under what the default
  OCR settings measure on these pages (docs/ocr.md).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import serve
from pages import png_bytes

from layoutlmv3_client import DocumentClient

N_FORMS = 5
# About 5 points under what the default OCR settings measure on the first 5 training forms
# (0.909 by box, 0.691 by box and text; docs/ocr.md), above the old defaults (0.86 and 0.59 would fail them).
FLOOR_BOX = 0.86
FLOOR_BOX_TEXT = 0.64


@pytest.fixture(scope="module")
def line_repository(tiny_repository, tmp_path_factory) -> Path:
    """The tiny repository, its preprocess set to line boxes the way build-repo sets it."""
    from layoutlmv3_triton.repository.configs import ServingOptions
    from layoutlmv3_triton.repository.writer import with_box_level, write_configs
    from layoutlmv3_triton.serving.segments import read_box_level

    repo = tmp_path_factory.mktemp("line-repository") / "repo"
    shutil.copytree(tiny_repository, repo)
    config_path = repo / "layoutlmv3_postprocess" / "1" / "config.json"
    config = json.loads(config_path.read_text())
    config["box_level"] = "line"  # what a model trained on line boxes records
    config_path.write_text(json.dumps(config))
    write_configs(repo, with_box_level(ServingOptions(), read_box_level(config_path)))
    assert 'key: "ocr_box_level"' in (repo / "layoutlmv3_preprocess" / "config.pbtxt").read_text()
    return repo


@pytest.fixture(scope="module")
def line_server(line_repository, tmp_path_factory):
    yield from serve(line_repository, tmp_path_factory, "line-triton-log")


def test_line_boxes_served_equal_in_process(line_server, line_repository, form_page):
    from layoutlmv3_triton.serving.pipeline import InProcessPipeline

    data = png_bytes(form_page[0])
    pipeline = InProcessPipeline(line_repository)
    try:
        assert pipeline.pre.params.ocr.box_level == "line"
        expected = pipeline(data)
        # the model did read line boxes: some word's model box is wider than the word
        page = pipeline.pre.read(data)[0]
        assert pipeline.pre.model_boxes(page) != [list(w.box) for w in page.words]
    finally:
        pipeline.close()
    with DocumentClient(line_server.grpc_url) as client:
        served = client.infer(data)
    assert served == expected


def test_real_forms_word_recall_floors(triton_server, funsd_dir):
    from layoutlmv3_triton.measure.evaluation import EvalConfig, evaluate

    run = evaluate(
        EvalConfig(
            url=triton_server.grpc_url,
            data=str(funsd_dir),
            split="training",
            limit=N_FORMS,
            concurrency=2,
            progress=False,
        )
    )
    report = run.report
    assert report["format"] == "funsd-layout" and report["pages"] == N_FORMS and not report["pages_failed"]
    print(
        f"word recall on {N_FORMS} FUNSD forms: box {report['word_recall_box']:.3f}, "
        f"box+text {report['word_recall_box_text']:.3f}"
    )
    assert report["word_recall_box"] >= FLOOR_BOX
    assert report["word_recall_box_text"] >= FLOOR_BOX_TEXT
    assert all(p["word_recall_box"] is not None for p in report["per_page"])
