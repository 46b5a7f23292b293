"""The client's question -> answer output: arrows in --annotate, --fields-csv, pairs in JSON Lines."""

from __future__ import annotations

import csv
import io
import json

from PIL import Image

import layoutlmv3_client.cli as cli
from layoutlmv3_client.annotate import PAIR_COLOR, annotate_page, arrow_ends
from layoutlmv3_client.api import DocumentClient

QUESTION_BOX, ANSWER_BOX = [20, 150, 120, 180], [200, 150, 320, 180]


def paired_result(width: int = 400, height: int = 300) -> dict:
    page = {
        "page": 0,
        "width": width,
        "height": height,
        "source": "ocr",
        "truncated_words": 0,
        "words": [],
        "entities": [
            {"label": "QUESTION", "text": "Name:", "box": QUESTION_BOX, "score": 0.9, "words": [0]},
            {"label": "ANSWER", "text": "Jane Doe", "box": ANSWER_BOX, "score": 0.8, "words": [1]},
        ],
        "pairs": [{"question": 0, "answer": 1, "score": 0.99}],
        "fields": [
            {"key": "Name:", "value": "Jane Doe", "key_box": QUESTION_BOX, "value_box": ANSWER_BOX, "score": 0.99}
        ],
    }
    return {"model": "layoutlmv3_ensemble", "labels": ["O", "B-QUESTION", "B-ANSWER"], "pages": [page]}


def test_arrow_runs_from_question_to_answer():
    assert arrow_ends(QUESTION_BOX, ANSWER_BOX) == ((120, 165), (200, 165))  # side by side
    assert arrow_ends([10, 10, 50, 20], [10, 30, 90, 40]) == ((30, 20), (50, 30))  # answer below
    out = annotate_page(Image.new("RGB", (400, 300), "white"), paired_result()["pages"][0])
    px = out.load()
    assert px[160, 165] == PAIR_COLOR  # the shaft, half way between the boxes
    assert px[160, 120] != PAIR_COLOR


def test_annotate_without_pairs_draws_no_arrow():
    page = paired_result()["pages"][0]
    page = {**page, "pairs": []}
    out = annotate_page(Image.new("RGB", (400, 300), "white"), page)
    assert out.load()[160, 165] != PAIR_COLOR


class PairingServer(DocumentClient):
    def check(self):
        pass

    def infer(self, data):
        width, height = Image.open(io.BytesIO(data)).size
        return paired_result(width, height)


def test_fields_csv_and_jsonl_carry_the_pairs(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "DocumentClient", PairingServer)
    docs = []
    for i in range(2):
        docs.append(tmp_path / f"p{i}.png")
        Image.new("RGB", (400 + i, 300), "white").save(docs[-1])
    jl, fields = tmp_path / "out.jsonl", tmp_path / "fields.csv"
    assert cli.main(["infer", *map(str, docs), "--jsonl", str(jl), "--fields-csv", str(fields)]) == 0
    records = [json.loads(line) for line in jl.read_text().splitlines()]
    assert all(r["result"]["pages"][0]["pairs"] == [{"question": 0, "answer": 1, "score": 0.99}] for r in records)
    rows = list(csv.DictReader(fields.open(newline="", encoding="utf-8")))
    assert rows == [{"file": str(d), "page": "0", "key": "Name:", "value": "Jane Doe", "score": "0.99"} for d in docs]
