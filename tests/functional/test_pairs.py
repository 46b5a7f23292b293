"""Question -> answer pairs come back from the server, linked by the repository's linker.json.

The session server runs a random tiny model, so which words are questions or answers is
arbitrary; what is checked is that the served pairs and fields are exactly what the
repository's linker draws from the served entities, the same in process, and that the
linker file travels with the repository.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
from pages import png_bytes, render_lines
from test_documents import grpc_infer

from layoutlmv3_triton import contract
from layoutlmv3_triton.serving.linking import LINKER_FILE, GeometricLinker, fields, link, load_linker, save_linker
from layoutlmv3_triton.serving.pipeline import InProcessPipeline

LINES = [
    f"{q}: {a}"
    for q, a in (
        ("Name", "John Smith"),
        ("Date", "2024-01-02"),
        ("City", "Springfield"),
        ("Phone", "555 0100"),
        ("Account", "AC-778"),
        ("Total", "99.50"),
        ("Signed", "J. Smith"),
        ("Ref", "X-12"),
    )
]


@pytest.fixture(scope="module")
def form_with_words():
    image, truth = render_lines(LINES, size=(900, 1000))
    words = {"words": [w for w, _ in truth], "boxes": [list(map(round, b)) for _, b in truth]}
    return png_bytes(image), json.dumps(words).encode(), words["boxes"]


def served_pairs(page: dict) -> list[tuple[int, int]]:
    return [(p["question"], p["answer"]) for p in page["pairs"]]


def test_server_returns_the_linkers_pairs_and_fields(triton_server, tiny_repository, form_with_words):
    document, words, boxes = form_with_words
    linker_path = tiny_repository / contract.POSTPROCESS / "1" / LINKER_FILE
    assert json.loads(linker_path.read_text())["kind"] == "geometric"  # build-repo wrote it
    page = grpc_infer(triton_server.grpc_url, document, words)["pages"][0]
    expected = link(page["entities"], boxes, load_linker(linker_path))
    assert page["pairs"] == [p.as_dict() for p in expected]
    assert page["fields"] == fields(page["entities"], expected)
    for pair in page["pairs"]:
        assert page["entities"][pair["question"]]["label"] == "QUESTION"
        assert page["entities"][pair["answer"]]["label"] == "ANSWER"
    labels = {e["label"] for e in page["entities"]}
    if {"QUESTION", "ANSWER"} <= labels:
        assert page["pairs"], "questions and answers side by side on one line, yet no pair"


def test_in_process_pipeline_uses_the_repositorys_linker(tiny_repository, form_with_words, tmp_path, triton_server):
    document, words, _ = form_with_words
    served = grpc_infer(triton_server.grpc_url, document, words)["pages"][0]
    pipeline = InProcessPipeline(tiny_repository)
    try:
        assert pipeline(document, words)["pages"][0] == served
    finally:
        pipeline.close()
    repo = tmp_path / "repo"
    shutil.copytree(tiny_repository, repo)
    save_linker(
        GeometricLinker({**GeometricLinker().geometry, "min_score": 1.01}),
        repo / contract.POSTPROCESS / "1" / LINKER_FILE,
    )  # a linker that accepts nothing
    pipeline = InProcessPipeline(repo)
    try:
        page = pipeline(document, words)["pages"][0]
    finally:
        pipeline.close()
    assert page["entities"] == served["entities"] and page["pairs"] == [] and page["fields"] == []


@pytest.mark.skipif(not os.environ.get("FUNSD_DIR"), reason="FUNSD_DIR is not set")
def test_evaluate_scores_pairs_on_real_forms(triton_server):
    """evaluate on 3 FUNSD forms: the linker on their ground truth, and the served pairs end to end."""
    from layoutlmv3_triton.datasets.pairs import pair_lines
    from layoutlmv3_triton.measure.evaluation import EvalConfig, evaluate

    report = evaluate(
        EvalConfig(
            url=triton_server.grpc_url,
            data=os.environ["FUNSD_DIR"],
            split="training",
            limit=3,
            progress=False,
            concurrency=2,
        )
    ).report
    given, served = report["pairs"]["given_entities"], report["pairs"]["end_to_end"]
    assert given["gold"] == served["gold"] > 0
    assert given["f1"] >= 0.85  # 0.928 on these forms; the random tiny model scores near 0 end to end
    assert 0 <= served["correct"] <= served["predicted"]
    assert pair_lines(report)[-2:] == [f"pair_f1_given_entities={given['f1']:.4f}", f"pair_f1={served['f1']:.4f}"]
