"""Any label set: a model with CORD-style labels is served with no code change."""

from __future__ import annotations

import json

import pytest
from pages import png_bytes, render_lines

from layoutlmv3_client import DocumentClient
from layoutlmv3_triton.local.server import LocalTritonServer
from layoutlmv3_triton.repository.writer import build_repository
from layoutlmv3_triton.serving.labels import load_id2label
from layoutlmv3_triton.synth import corpus_texts
from layoutlmv3_triton.training.scratch import build_from_scratch

CORD_TYPES = [
    "MENU.NM",
    "MENU.CNT",
    "MENU.PRICE",
    "MENU.UNITPRICE",
    "MENU.SUB_NM",
    "SUB_TOTAL.SUBTOTAL_PRICE",
    "SUB_TOTAL.TAX_PRICE",
    "TOTAL.TOTAL_PRICE",
    "TOTAL.CASHPRICE",
    "TOTAL.CHANGEPRICE",
]
CORD_LABELS = ["O"] + [f"{p}-{t}" for t in CORD_TYPES for p in ("B", "I")]


@pytest.fixture(scope="module")
def cord_server(tmp_path_factory):
    model = build_from_scratch(
        tmp_path_factory.mktemp("cord-model"), corpus_texts(30, seed=5), CORD_LABELS, preset="tiny", vocab_size=800
    )
    repo = tmp_path_factory.mktemp("cord-repo")
    build_repository(model, repo)
    with LocalTritonServer(repo, log_file=tmp_path_factory.mktemp("log") / "triton.log") as server:
        yield server, repo


def test_cord_labels_come_from_the_model_config(cord_server):
    server, repo = cord_server
    assert load_id2label(repo / "layoutlmv3_postprocess" / "1" / "config.json") == CORD_LABELS
    image, _ = render_lines(["Nasi Goreng 2 x 25,000", "Iced Tea 1 x 8,000", "TOTAL 58,000 CASH 100,000"])
    with DocumentClient(server.grpc_url) as client:
        result = client.infer(png_bytes(image))
    assert result["labels"] == CORD_LABELS
    page = result["pages"][0]
    assert page["words"] and all(w["label"] in CORD_LABELS for w in page["words"])
    assert {e["label"] for e in page["entities"]} <= set(CORD_TYPES)
    json.dumps(result)  # plain JSON all the way
