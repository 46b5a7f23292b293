"""Logits -> one label per word -> BIO entities -> result JSON.

A word's label is read at its first sub-token; on a long page cut into windows, the
class probabilities at that token are averaged over the windows that saw it
(:func:`~.windows.merge_word_probabilities`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from layoutlmv3_triton.contract import split_tag
from layoutlmv3_triton.serving.linking import Linker, fields, link
from layoutlmv3_triton.serving.windows import merge_word_probabilities


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def word_predictions(logits: np.ndarray, word_ids: np.ndarray, n_words: int) -> tuple[np.ndarray, np.ndarray]:
    """Label id and probability per word from the word's first sub-token, for one window
    (``merge_word_probabilities`` averages several).

    Words with no token (truncated away) get label -1 and score NaN.
    """
    logits = np.asarray(logits, dtype=np.float32)
    return merge_word_probabilities([softmax(logits)], [word_ids], n_words)


@dataclass
class Entity:
    label: str
    words: list[int] = field(default_factory=list)


def group_entities(tags: Sequence[str | None]) -> list[Entity]:
    """BIO grouping.  An I-X that does not continue an X entity starts a new one."""
    entities: list[Entity] = []
    current: Entity | None = None
    for index, tag in enumerate(tags):
        prefix, name = split_tag(tag or "O")
        if prefix == "O":
            current = None
            continue
        if prefix in ("B", "S") or current is None or current.label != name:
            current = Entity(name)
            entities.append(current)
        current.words.append(index)
        if prefix in ("E", "S"):
            current = None
    return entities


def union_box(boxes: Sequence[Sequence[int]]) -> list[int]:
    b = np.asarray(boxes).reshape(-1, 4)
    return [int(b[:, 0].min()), int(b[:, 1].min()), int(b[:, 2].max()), int(b[:, 3].max())]


def page_result(words: Sequence[str], boxes: Sequence[Sequence[int]], label_ids: np.ndarray,
                scores: np.ndarray, id2label: Sequence[str], *, width: int, height: int,
                confidences: Sequence[float | None] | None = None, page: int = 0,
                source: str = "ocr", linker: Linker | None = None) -> dict:
    """The per-page part of the result document (docs/result-format.md).

    ``linker`` links questions to answers (default: the geometric rules of serving/linking.py).
    """
    tags = [id2label[i] if i >= 0 else None for i in label_ids]
    word_items = []
    for i, text in enumerate(words):
        word_items.append({
            "text": text,
            "box": [int(v) for v in boxes[i]],
            "label": tags[i],
            "score": None if np.isnan(scores[i]) else round(float(scores[i]), 6),
            "confidence": None if confidences is None else confidences[i],
        })
    entities = []
    for entity in group_entities(tags):
        entities.append({
            "label": entity.label,
            "text": " ".join(words[i] for i in entity.words),
            "box": union_box([boxes[i] for i in entity.words]),
            "score": round(float(np.mean([scores[i] for i in entity.words])), 6),
            "words": entity.words,
        })
    pairs = link(entities, boxes, linker)
    return {
        "page": page,
        "width": int(width),
        "height": int(height),
        "source": source,
        "truncated_words": int(sum(t is None for t in tags)),
        "words": word_items,
        "entities": entities,
        "pairs": [pair.as_dict() for pair in pairs],
        "fields": fields(entities, pairs),
    }
