"""Pair scoring against FUNSD's linking (datasets/pairs.py) and its place in evaluate's report."""

from __future__ import annotations

import json

from PIL import Image

from layoutlmv3_triton.datasets import funsd_layout
from layoutlmv3_triton.datasets.pairs import gold_pairs, pair_lines, pair_report, score_given_entities
from layoutlmv3_triton.measure.evaluation import GroundTruth, evaluate_page


def word(text, box):
    return {"text": text, "box": box}


def write_form(root):
    (root / "annotations").mkdir(parents=True)
    (root / "images").mkdir()
    Image.new("L", (400, 300), 255).save(root / "images" / "f1.png")
    form = [
        {
            "id": 0,
            "label": "question",
            "box": [10, 10, 60, 22],
            "text": "Name:",
            "words": [word("Name:", [10, 10, 60, 22])],
            "linking": [[0, 1]],
        },
        {
            "id": 1,
            "label": "answer",
            "box": [80, 10, 150, 22],
            "text": "Ada Byron",
            "words": [word("Ada", [80, 10, 110, 22]), word("Byron", [115, 10, 150, 22])],
            "linking": [[0, 1]],
        },
        {
            "id": 2,
            "label": "question",
            "box": [10, 50, 90, 62],
            "text": "Address",
            "words": [word("Address", [10, 50, 90, 62])],
            "linking": [[3, 2]],
        },  # written answer -> question, as some FUNSD files do
        {
            "id": 3,
            "label": "answer",
            "box": [10, 70, 200, 82],
            "text": "1 Main St",
            "words": [word("1", [10, 70, 20, 82]), word("Main", [25, 70, 70, 82]), word("St", [75, 70, 95, 82])],
            "linking": [[3, 2]],
        },
        {
            "id": 4,
            "label": "header",
            "box": [10, 100, 90, 112],
            "text": "NOTES",
            "words": [word("NOTES", [10, 100, 90, 112])],
            "linking": [[4, 2]],
        },
    ]
    (root / "annotations" / "f1.json").write_text(json.dumps({"form": form}))
    return funsd_layout.read_pages(root)


def test_gold_pairs_and_the_linker_on_ground_truth(tmp_path):
    (page,) = write_form(tmp_path)
    assert gold_pairs(page) == {(0, 1), (2, 3)}  # header links and direction do not matter
    scores = score_given_entities([page])
    assert scores["f1"] == 1.0 and scores["gold"] == 2


def served_result(pairs):
    words = [
        ("Name:", [10, 10, 60, 22], "B-QUESTION"),
        ("Ada", [80, 10, 110, 22], "B-ANSWER"),
        ("Byron", [115, 10, 150, 22], "I-ANSWER"),
        ("Address", [10, 50, 90, 62], "B-QUESTION"),
        ("1", [10, 70, 20, 82], "B-ANSWER"),
    ]  # OCR missed "Main St": the answer entity is 1 of 3 words
    entities = [
        {"label": "QUESTION", "box": [10, 10, 60, 22], "text": "Name:", "words": [0]},
        {"label": "ANSWER", "box": [80, 10, 150, 22], "text": "Ada Byron", "words": [1, 2]},
        {"label": "QUESTION", "box": [10, 50, 90, 62], "text": "Address", "words": [3]},
        {"label": "ANSWER", "box": [10, 70, 20, 82], "text": "1", "words": [4]},
    ]
    return {
        "pages": [
            {
                "width": 400,
                "height": 300,
                "entities": entities,
                "pairs": pairs,
                "words": [{"text": t, "box": b, "label": label} for t, b, label in words],
            }
        ]
    }


def test_end_to_end_pairs_through_evaluate_page(tmp_path):
    (page,) = write_form(tmp_path)
    truth = GroundTruth(
        page.id, page.words, [list(b) for b in page.boxes], page.tags, 400, 300, pixel_boxes=True, layout=page
    )
    result = served_result([{"question": 0, "answer": 1, "score": 1.0}, {"question": 2, "answer": 3, "score": 0.5}])
    counts = evaluate_page(truth, result).pairs
    # (0, 1) matches; the second answer holds 1 of its gold entity's 3 words: no match, a wrong pair
    assert (counts.correct, counts.predicted, counts.gold) == (1, 2, 2)
    failed = evaluate_page(truth, None, error="boom").pairs
    assert (failed.correct, failed.predicted, failed.gold) == (0, 0, 2)
    report = {"pairs": pair_report([page], [counts, failed])}
    lines = pair_lines(report)
    assert lines[-2] == "pair_f1_given_entities=1.0000"
    assert lines[-1] == f"pair_f1={2 * 0.5 * 0.25 / 0.75:.4f}"  # P 1/2, R 1/4 (the failed page adds 2 gold)
    assert pair_lines({}) == []
