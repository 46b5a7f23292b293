"""The FUNSD-layout reader on a tiny hand-made annotation (no FUNSD data needed)."""

import json

import pytest
from PIL import Image

from layoutlmv3_triton.datasets import funsd_layout

FORM = {
    "form": [
        {
            "id": 0,
            "label": "header",
            "box": [10, 5, 90, 20],
            "text": "ORDER FORM",
            "words": [{"text": "ORDER", "box": [10, 5, 50, 20]}, {"text": "FORM", "box": [55, 5, 90, 20]}],
            "linking": [],
        },
        {
            "id": 1,
            "label": "question",
            "box": [10, 30, 40, 40],
            "text": "Date:",
            "words": [{"text": "Date:", "box": [10, 30, 40, 40]}],
            "linking": [[1, 2]],
        },
        {
            "id": 2,
            "label": "answer",
            "box": [45, 30, 80, 40],
            "text": "1 May",
            "words": [
                {"text": "1", "box": [45, 30, 50, 40]},
                {"text": " ", "box": [50, 30, 52, 40]},
                {"text": "May", "box": [80, 40, 55, 30]},
            ],
            "linking": [[1, 2]],
        },
        {
            "id": 3,
            "label": "other",
            "box": [10, 60, 20, 70],
            "text": "x",
            "words": [{"text": "x", "box": [10, 60, 20, 70]}],
            "linking": [],
        },
    ]
}


@pytest.fixture()
def funsd_dir(tmp_path):
    root = tmp_path / "training_data"
    (root / "annotations").mkdir(parents=True)
    (root / "images").mkdir()
    (root / "annotations" / "p1.json").write_text(json.dumps(FORM))
    Image.new("L", (100, 200), 255).save(root / "images" / "p1.png")
    return tmp_path


def test_reads_words_tags_entities_and_linking(funsd_dir):
    assert funsd_layout.is_layout(funsd_dir)
    (page,) = funsd_layout.read_pages(funsd_dir)
    assert page.id == "p1" and page.image_path.name == "p1.png"
    assert page.words == ["ORDER", "FORM", "Date:", "1", "May", "x"]  # the blank word is dropped
    assert page.tags == ["B-HEADER", "I-HEADER", "B-QUESTION", "B-ANSWER", "I-ANSWER", "O"]
    assert page.boxes[4] == (55, 30, 80, 40)  # reversed corners put in order
    assert page.entity_of_word == [0, 0, 1, 2, 2, 3]
    assert [e.words for e in page.entities] == [(0, 1), (2,), (3, 4), (5,)]
    assert page.linking == [(1, 2)]  # listed by both entities, kept once
    assert page.image_size() == (100, 200)
    assert page.normalized_boxes()[0] == (100, 25, 500, 100)


def test_rejects_other_layouts(tmp_path):
    assert not funsd_layout.is_layout(tmp_path)
    with pytest.raises(funsd_layout.FunsdLayoutError):
        funsd_layout.find_root(tmp_path)
