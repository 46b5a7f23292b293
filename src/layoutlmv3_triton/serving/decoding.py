"""Postprocess, the logic: logits -> one label per word -> BIO entities and pairs -> result JSON.

A word's label is read at its first sub-token; on a long page cut into windows, the class
probabilities at that token are averaged over the windows that saw it
(:func:`~.windows.merge_word_probabilities`).  :class:`Postprocessor` is the stage: the
Triton step around it is steps/postprocess.py.  Rows arrive one per window; a window that
carries a page record starts a page (the page's further windows carry none), and page 0
starts a document: one result per document of the request.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from layoutlmv3_triton import contract
from layoutlmv3_triton.contract import split_tag
from layoutlmv3_triton.errors import DecodingError
from layoutlmv3_triton.records import PageRecord
from layoutlmv3_triton.serving.labels import load_id2label
from layoutlmv3_triton.serving.linking import LINKER_FILE, Linker, fields, link, load_linker
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


def page_result(
    words: Sequence[str],
    boxes: Sequence[Sequence[int]],
    label_ids: np.ndarray,
    scores: np.ndarray,
    id2label: Sequence[str],
    *,
    width: int,
    height: int,
    confidences: Sequence[float | None] | None = None,
    page: int = 0,
    source: str = "ocr",
    linker: Linker | None = None,
) -> dict:
    """The per-page part of the result document (docs/result-format.md).

    ``linker`` links questions to answers (default: the geometric rules of serving/linking.py).
    """
    tags = [id2label[i] if i >= 0 else None for i in label_ids]
    word_items = []
    for i, text in enumerate(words):
        word_items.append(
            {
                "text": text,
                "box": [int(v) for v in boxes[i]],
                "label": tags[i],
                "score": None if np.isnan(scores[i]) else round(float(scores[i]), 6),
                "confidence": None if confidences is None else confidences[i],
            }
        )
    entities = []
    for entity in group_entities(tags):
        entities.append(
            {
                "label": entity.label,
                "text": " ".join(words[i] for i in entity.words),
                "box": union_box([boxes[i] for i in entity.words]),
                "score": round(float(np.mean([scores[i] for i in entity.words])), 6),
                "words": entity.words,
            }
        )
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


class Postprocessor:
    def __init__(self, model_config_path: str | Path, model_name: str = contract.ENSEMBLE):
        self.id2label = load_id2label(model_config_path)
        self.linker = load_linker(Path(model_config_path).with_name(LINKER_FILE))  # geometric rules if absent
        self.model_name = model_name

    def page(
        self,
        window_logits: list[np.ndarray] | np.ndarray,
        window_word_ids: list[np.ndarray] | np.ndarray,
        record: PageRecord,
    ) -> dict:
        """One page from the logits and word maps of its windows (a single array: one window)."""
        if isinstance(window_logits, np.ndarray) and window_logits.ndim == 2:
            window_logits, window_word_ids = [window_logits], [window_word_ids]
        n_labels = window_logits[0].shape[-1]
        if n_labels != len(self.id2label):
            raise DecodingError(
                f"model gave {n_labels} logits per token but config.json names {len(self.id2label)} labels"
            )
        probs = [softmax(np.asarray(logits, dtype=np.float32)) for logits in window_logits]
        label_ids, scores = merge_word_probabilities(probs, window_word_ids, len(record.words))
        return page_result(
            record.words,
            record.boxes,
            label_ids,
            scores,
            self.id2label,
            width=record.width,
            height=record.height,
            confidences=record.confidences,
            page=record.page,
            source=record.source,
            linker=self.linker,
        )

    def document(self, pages: list[dict]) -> bytes:
        return json.dumps({"model": self.model_name, "labels": self.id2label, "pages": pages}).encode()

    def documents(self, logits: np.ndarray, word_ids: np.ndarray, page_words: np.ndarray) -> list[bytes]:
        """All documents of one request from its windows."""
        pages: list[tuple[PageRecord, list[int]]] = []
        for window, value in enumerate(page_words.reshape(-1)):
            if value is not None and len(value):
                pages.append((PageRecord.from_json(value), [window]))
            elif pages:
                pages[-1][1].append(window)
            else:
                raise DecodingError(f"window {window} continues a page that never started")
        docs: list[list[dict]] = []
        for record, windows in pages:
            if record.page == 0 or not docs:
                docs.append([])
            docs[-1].append(self.page([logits[w] for w in windows], [word_ids[w] for w in windows], record))
        return [self.document(doc) for doc in docs]
