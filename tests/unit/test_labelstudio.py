"""Label Studio OCR-template exports: regions -> words with boxes -> BIO tags, for train and evaluate.

The export is written here the way Label Studio writes one (results per region sharing an
id: a rectangle or polygon, a per-region transcription, a label; a relation), with a page
rendered beside it.
"""

from __future__ import annotations

import json

import pytest
from pages import render_lines

from layoutlmv3_triton.datasets import funsd_layout, labelstudio

W, H = 900, 600


def pct(box):
    x0, y0, x1, y1 = box
    return {
        "x": 100 * x0 / W,
        "y": 100 * y0 / H,
        "width": 100 * (x1 - x0) / W,
        "height": 100 * (y1 - y0) / H,
        "rotation": 0,
    }


def region(rid, box, text, label, geometry="rectangle"):
    """The three results Label Studio's OCR template stores for one region."""
    value = pct(box)
    shape = {
        "id": rid,
        "type": geometry,
        "from_name": "bbox",
        "to_name": "image",
        "original_width": W,
        "original_height": H,
        "image_rotation": 0,
        "value": value,
    }
    if geometry == "polygon":
        x0, y0, x1, y1 = box
        shape["value"] = {"points": [[100 * x / W, 100 * y / H] for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]}
    labels = {
        "id": rid,
        "type": "labels",
        "from_name": "label",
        "to_name": "image",
        "original_width": W,
        "original_height": H,
        "value": {**value, "labels": [label]},
    }
    text_result = {
        "id": rid,
        "type": "textarea",
        "from_name": "transcription",
        "to_name": "image",
        "original_width": W,
        "original_height": H,
        "value": {**value, "text": [text]},
    }
    return [shape, labels, text_result]


def union(boxes):
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


@pytest.fixture
def export(tmp_path):
    """A two-task export: one labelled page (image as uploaded, name prefixed) and one skipped task."""
    image, truth = render_lines(["REGISTRATION FORM", "Name: John Smith", "Date: 2024-01-02"])
    boxes = dict(truth)
    folder = tmp_path / "export"
    folder.mkdir()
    image.save(folder / "form.png")
    results = (
        region("h1", union([boxes["REGISTRATION"], boxes["FORM"]]), "REGISTRATION FORM", "Header")
        + region("q1", boxes["Name:"], "Name:", "Question")
        + region("a1", union([boxes["John"], boxes["Smith"]]), "John Smith", "Answer", geometry="polygon")
        + region("q2", boxes["Date:"], "Date:", "Question")
        + region("a2", boxes["2024-01-02"], "2024-01-02", "Answer")
        + [
            {"type": "relation", "from_id": "q1", "to_id": "a1", "direction": "right"},
            {"type": "relation", "from_id": "q2", "to_id": "a2", "direction": "right"},
        ]
    )
    tasks = [
        {
            "id": 7,
            "data": {"ocr": "/data/upload/1/8f2c1d7e-form.png"},
            "annotations": [{"id": 1, "was_cancelled": False, "result": results}],
        },
        {"id": 8, "data": {"ocr": "/data/upload/1/0a1b2c3d-other.png"}, "annotations": []},
    ]
    (folder / "project-1-at-2026-01-01.json").write_text(json.dumps(tasks))
    return folder, truth


def test_regions_become_words_with_boxes_and_bio_tags(export):
    folder, truth = export
    assert labelstudio.is_export(folder) and not funsd_layout.is_layout(folder)
    pages, labels = labelstudio.read_pages(folder)
    assert labels == funsd_layout.LABELS  # FUNSD's kinds only: FUNSD's tags, so it trains next to synthetic pages
    (page,) = pages
    assert page.id == "7" and page.image_path == folder / "form.png"  # upload prefix stripped
    assert page.words == ["REGISTRATION", "FORM", "Name:", "John", "Smith", "Date:", "2024-01-02"]
    assert page.tags == ["B-HEADER", "I-HEADER", "B-QUESTION", "B-ANSWER", "I-ANSWER", "B-QUESTION", "B-ANSWER"]
    assert [e.label for e in page.entities] == ["header", "question", "answer", "question", "answer"]
    assert page.linking == [(1, 2), (3, 4)]
    drawn = dict(truth)
    for word, box in zip(page.words, page.boxes):  # a region's share for each word lies on its ink
        x0, y0, x1, y1 = drawn[word]
        centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        assert x0 - 2 <= centre[0] <= x1 + 2 and y0 - 2 <= centre[1] <= y1 + 2, (word, box, drawn[word])


def test_other_labels_get_their_own_tags_and_text_splits_into_lines():
    assert labelstudio.tag_names(["invoice_no", "total"]) == ("O", "B-INVOICE_NO", "I-INVOICE_NO", "B-TOTAL", "I-TOTAL")
    words = labelstudio.split_region((0, 0, 100, 40), "Ship to\nACME Ltd")
    assert [w for w, _ in words] == ["Ship", "to", "ACME", "Ltd"]
    assert words[0][1] == (0, 0, 57, 20) and words[2][1][1] == 20  # second line in the lower half


def test_a_folder_without_an_export_is_refused(tmp_path):
    (tmp_path / "notes.json").write_text(json.dumps({"form": []}))
    with pytest.raises(labelstudio.LabelStudioError, match="expected one Label Studio JSON export"):
        labelstudio.find_export(tmp_path)


def test_train_and_evaluate_read_the_export(export, tmp_path):
    """`train --data EXPORT` trains on it; `evaluate --data EXPORT` reads the same truth."""
    pytest.importorskip("lightning")
    from layoutlmv3_triton.measure.evaluation import EvalConfig, read_source
    from layoutlmv3_triton.training import TrainConfig, train
    from layoutlmv3_triton.training.data import label_names, load_split

    folder, _ = export
    ds = load_split(data=str(folder))
    assert label_names(ds) == list(funsd_layout.LABELS) and ds[0]["tokens"][:2] == ["REGISTRATION", "FORM"]
    summary = train(
        TrainConfig(
            out=str(tmp_path / "m"),
            data=[f"{folder}*4"],
            val_data=str(folder),
            from_scratch=True,
            preset="tiny",
            vocab_size=300,
            max_steps=2,
            batch_size=2,
            tokenizer_corpus="data",
            progress=False,
            threads=1,
        )
    )
    assert summary["global_steps"] == 2 and summary["train_pages"] == 4
    truths, loaders, _, tags, fmt = read_source(
        EvalConfig(url="unused", data=str(folder / "project-1-at-2026-01-01.json"))
    )
    assert fmt == "label-studio" and tags == list(funsd_layout.LABELS)
    assert truths[0].words == ds[0]["tokens"] and truths[0].layout.linking == [(1, 2), (3, 4)]
    assert loaders[0]() == (folder / "form.png").read_bytes()
