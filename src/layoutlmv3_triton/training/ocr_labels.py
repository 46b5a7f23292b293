"""Train on the words the server will see: its OCR engine's, labelled from the ground truth.

Why: at serving time the model reads OCR words (Tesseract's or PP-OCR's, as the repository's
``ocr_engine`` says), which differ from the ground-truth words now and then (a split or
merged word, a misread character, a stray mark read as "|").  Re-labelling some training
pages on that engine's output teaches the model those cases.  Each OCR word takes the label
of the ground-truth word that covers most of it; words with no ground truth under them are
``O``; BIO tags are then repaired.
"""

from __future__ import annotations

import random
from typing import Any

from layoutlmv3_triton.datasets.matching import match_words


def label_ocr_words(
    ocr_boxes: list[tuple[float, ...]], gt_boxes: list[tuple[float, ...]], gt_labels: list[str]
) -> list[str]:
    """One BIO label per OCR word, from the ground-truth word that covers it most."""
    labels: list[str] = []
    prev_gt, prev_type = -1, ""
    for best in match_words(ocr_boxes, gt_boxes):  # the evaluation's rule (datasets/matching.py)
        if best < 0 or gt_labels[best] == "O":
            labels.append("O")
            prev_gt, prev_type = best, ""
            continue
        tag, _, kind = gt_labels[best].partition("-")
        if best == prev_gt and kind == prev_type:  # a ground-truth word that OCR split in pieces
            tag = "I"
        elif tag == "I" and kind != prev_type:  # the entity's first words were lost
            tag = "B"
        labels.append(f"{tag}-{kind}")
        prev_gt, prev_type = best, kind
    return labels


_ENGINES: dict[str, Any] = {}


def _engine(name: str) -> Any:
    """The engine ``name`` with the settings a repository gets by default (the ppocr graphs
    straight from the installed wheel, as build-repo writes them)."""
    if name not in _ENGINES:
        from layoutlmv3_triton.serving.ocr import OcrConfig
        from layoutlmv3_triton.serving.ocr_engines import open_engine
        from layoutlmv3_triton.serving.ppocr.config import PpocrConfig

        def models():
            from layoutlmv3_triton.export.ppocr import package_models

            return package_models()

        _ENGINES[name] = open_engine(OcrConfig(engine=name), PpocrConfig(), models)
    return _ENGINES[name]


def relabel_page(row: dict, names: list[str], engine: str = "tesseract") -> dict:
    """Replace a page's words, boxes and tags with ``engine``'s words labelled from ``row``."""
    image = row["image"].convert("RGB")
    w, h = image.size
    gt = [(b[0] * w / 1000, b[1] * h / 1000, b[2] * w / 1000, b[3] * h / 1000) for b in row["bboxes"]]
    words = _engine(engine).read(image)
    if not words:
        return row
    labels = label_ocr_words([tuple(x.box) for x in words], gt, [names[t] for t in row["ner_tags"]])
    index = {name: i for i, name in enumerate(names)}
    return {
        "tokens": [x.text for x in words],
        "bboxes": [
            [
                min(1000, max(0, round(v)))
                for v in (x.box[0] * 1000 / w, x.box[1] * 1000 / h, x.box[2] * 1000 / w, x.box[3] * 1000 / h)
            ]
            for x in words
        ],
        "ner_tags": [index[label] for label in labels],
    }


def relabel_with_ocr(
    ds: Any, *, fraction: float = 1.0, seed: int = 0, progress: bool = False, engine: str = "tesseract"
) -> Any:
    """``ds`` with a ``fraction`` of its pages (chosen by ``seed``) re-labelled on ``engine``'s words.

    Only the ``tokens``, ``bboxes`` and ``ner_tags`` columns are rebuilt; images are left as
    stored.  OCR takes ~0.4 s a page on one core with Tesseract and several seconds with PP-OCR
    (docs/ocr.md), so this adds minutes to a large run.
    """
    from layoutlmv3_triton.training.data import label_names

    names = label_names(ds)
    pick = random.Random(f"ocr-words:{seed}")
    chosen = [i for i in range(len(ds)) if pick.random() < fraction]
    cols = {k: list(ds[k]) for k in ("tokens", "bboxes", "ner_tags")}
    rows = ds.select(chosen)
    if progress:
        from tqdm.auto import tqdm

        rows = tqdm(rows, total=len(chosen), desc="OCR re-labelling", unit="page")
    for i, row in zip(chosen, rows):
        new = relabel_page(row, names, engine)
        for k in cols:
            cols[k][i] = new[k]
    features = ds.features
    out = ds.remove_columns(list(cols))
    for k, values in cols.items():
        out = out.add_column(k, values, feature=features[k])
    return out
