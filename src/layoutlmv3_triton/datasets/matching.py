"""Match OCR words to ground-truth words by box: the one rule evaluation and training share.

An OCR word belongs to the ground-truth word that covers the largest share of the OCR
word's box, if that share ("cover") is at least :data:`MIN_COVER`; ties go to the earlier
ground-truth word.  Both sides are in the same coordinates (pixels of one page).

From that assignment come the two OCR quality figures of docs/ocr.md:

- a ground-truth word is *found by box* when at least one OCR word is assigned to it;
- it is *found by box and text* when, in addition, the OCR words assigned to it, in reading
  order and joined without spaces, spell its text (case-insensitive).  A word that OCR split
  in two still counts; two words that OCR merged into one do not (one of them lost its box).

Only numpy is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_COVER = 0.5


def cover_matrix(ocr_boxes: Sequence[Sequence[float]], gt_boxes: Sequence[Sequence[float]]) -> np.ndarray:
    """``[i, j]`` = area of (OCR word i ∩ ground-truth word j) / area of OCR word i.

    An OCR box of zero area (a dot, a rule) is given an area of 1 pixel so that it can
    still be covered, and never divides by zero.
    """
    ocr = np.asarray(ocr_boxes, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    if not len(ocr) or not len(gt):
        return np.zeros((len(ocr), len(gt)))
    ix = np.clip(np.minimum(ocr[:, None, 2], gt[None, :, 2]) - np.maximum(ocr[:, None, 0], gt[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(ocr[:, None, 3], gt[None, :, 3]) - np.maximum(ocr[:, None, 1], gt[None, :, 1]), 0, None)
    area = np.maximum((ocr[:, 2] - ocr[:, 0]) * (ocr[:, 3] - ocr[:, 1]), 1.0)
    return ix * iy / area[:, None]


def match_words(
    ocr_boxes: Sequence[Sequence[float]], gt_boxes: Sequence[Sequence[float]], min_cover: float = MIN_COVER
) -> list[int]:
    """For each OCR word, the index of its ground-truth word, or -1."""
    cover = cover_matrix(ocr_boxes, gt_boxes)
    if cover.size == 0:
        return [-1] * cover.shape[0]
    best = cover.argmax(axis=1)  # first maximum: ties go to the earlier ground-truth word
    ok = cover[np.arange(len(best)), best] >= min_cover
    return [int(j) if good else -1 for j, good in zip(best, ok)]


@dataclass(frozen=True)
class WordRecall:
    """Per ground-truth word: found by box, found by box and text."""

    by_box: list[bool]
    by_text: list[bool]

    @property
    def gt_words(self) -> int:
        return len(self.by_box)


def word_recall(assignment: Sequence[int], ocr_texts: Sequence[str], gt_texts: Sequence[str]) -> WordRecall:
    """Which ground-truth words came back, from :func:`match_words`' ``assignment``."""
    pieces: list[list[str]] = [[] for _ in gt_texts]
    for j, text in zip(assignment, ocr_texts):
        if 0 <= j < len(pieces):
            pieces[j].append(text)
    by_box = [bool(p) for p in pieces]
    by_text = [bool(p) and "".join(p).casefold() == str(t).strip().casefold() for p, t in zip(pieces, gt_texts)]
    return WordRecall(by_box, by_text)


__all__ = ["MIN_COVER", "WordRecall", "cover_matrix", "match_words", "word_recall"]
