"""Segment boxes: give each word the box of its segment (text line or block) instead of its own.

Why: LayoutLMv3's published FUNSD results give every word the box of its segment, and a
model fine-tuned that way expects the same boxes when it is served (docs/ocr.md, "Box
level").  A model records the level it was trained with in its ``config.json``
(``box_level``); build-repo copies it into the preprocess config, and training and
serving both call :func:`segment_boxes`, so the two cannot drift apart.

Segment ids come from Tesseract (``Word.line`` / ``Word.block``).  Words that OCR did not
read (a PDF text layer, words sent by the client, ground-truth words in training) have
none; :func:`line_ids` then groups them into lines from their boxes alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

BOX_LEVELS = ("word", "line", "block")
DEFAULT_BOX_LEVEL = "word"
BOX_LEVEL_KEY = "box_level"  # the key in a model's config.json and the preprocess parameter

Box = Sequence[float]


def check_box_level(level: str) -> str:
    if level not in BOX_LEVELS:
        raise ValueError(f"box_level must be one of {', '.join(BOX_LEVELS)}, not {level!r}")
    return level


def segment_boxes(word_boxes: Sequence[Box], segment_ids: Sequence[int] | None = None) -> list[list[float]]:
    """Each word's segment box: the union of the boxes of all words with its segment id.

    ``segment_ids`` is one id per word (Tesseract's line or block number); a negative id
    keeps the word's own box.  ``None``: lines found from the boxes (:func:`line_ids`).
    The boxes keep their coordinates (pixels or 0..1000 alike) and their order.
    """
    if segment_ids is None:
        segment_ids = line_ids(word_boxes)
    if len(segment_ids) != len(word_boxes):
        raise ValueError(f"{len(segment_ids)} segment ids for {len(word_boxes)} words")
    union: dict[int, list[float]] = {}
    for box, sid in zip(word_boxes, segment_ids):
        if sid < 0:
            continue
        u = union.get(sid)
        if u is None:
            union[sid] = [box[0], box[1], box[2], box[3]]
        else:
            u[0], u[1], u[2], u[3] = min(u[0], box[0]), min(u[1], box[1]), max(u[2], box[2]), max(u[3], box[3])
    return [
        list(union[sid]) if sid >= 0 else [box[0], box[1], box[2], box[3]] for box, sid in zip(word_boxes, segment_ids)
    ]


def line_ids(word_boxes: Sequence[Box], max_gap: float = 1.5) -> list[int]:
    """Line numbers for words in reading order, from their boxes alone.

    A word continues the current line when it starts to the right of the previous word,
    no further than ``max_gap`` line heights from it, and overlaps the line vertically
    by at least half of the smaller height; otherwise it starts a new line.  (Tesseract's
    own lines split at wide gaps too, which keeps a form's label and value apart.)
    """
    ids: list[int] = []
    line = -1
    top = bottom = right = 0.0
    for box in word_boxes:
        x0, y0, x1, y1 = (float(v) for v in box[:4])
        height = max(1.0, min(y1 - y0, bottom - top))
        overlap = min(y1, bottom) - max(y0, top)
        same = (
            line >= 0
            and x0 >= right - height
            and x0 - right <= max_gap * max(1.0, bottom - top)
            and overlap >= 0.5 * height
        )
        if same:
            top, bottom, right = min(top, y0), max(bottom, y1), max(right, x1)
        else:
            line += 1
            top, bottom, right = y0, y1, x1
        ids.append(line)
    return ids


def boxes_at_level(
    word_boxes: Sequence[Box], level: str, lines: Sequence[int] | None = None, blocks: Sequence[int] | None = None
) -> list[list[float]]:
    """The boxes a model trained at ``level`` reads: word boxes, or line or block boxes.

    ``lines``/``blocks``: Tesseract's ids per word, when the words came from OCR.  Without
    them, ``line`` groups the words from their boxes and ``block`` falls back to lines.
    """
    check_box_level(level)
    if level == "word":
        return [list(b) for b in word_boxes]
    ids = blocks if level == "block" else lines
    if ids is not None and all(i >= 0 for i in ids):
        return segment_boxes(word_boxes, ids)
    return segment_boxes(word_boxes, None)


def read_box_level(model_config: str | Path) -> str:
    """The ``box_level`` a model's ``config.json`` records (``word`` when it records none)."""
    import json

    data = json.loads(Path(model_config).read_text())
    return check_box_level(str(data.get(BOX_LEVEL_KEY) or DEFAULT_BOX_LEVEL))


__all__ = [
    "BOX_LEVELS",
    "BOX_LEVEL_KEY",
    "DEFAULT_BOX_LEVEL",
    "boxes_at_level",
    "check_box_level",
    "line_ids",
    "read_box_level",
    "segment_boxes",
]
