"""Split OCR words after inner separators: ``12/4/87`` -> ``12/`` ``4/`` ``87``.

Why: Tesseract keeps ``12/4/87``, ``87-114`` or ``Date:12/1/89`` as one word, while FUNSD's
annotation (and so every model fine-tuned on it) splits words after ``/`` and ``-`` (about
700 of its 22k training words end in one, against 200 that hold one inside).  A merged
``NOTEBOOK:PAGE`` also joins two entities into one word, which no labelling can undo.
On FUNSD forms, splitting after ``/``, ``-`` and ``:`` raised word recall by box by 5.5
points and by box and text by 4.7 (docs/ocr.md).

Each piece keeps its separator and gets a share of the word's box proportional to its
number of characters (Tesseract gives no character boxes on this path); line, block and
confidence are the word's.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from layoutlmv3_triton.serving.page import Word


@lru_cache(maxsize=16)
def _splitter(separators: str) -> re.Pattern:
    chars = re.escape(separators)
    # text followed by separators, or the tail: "12/4/87" -> "12/", "4/", "87"; a leading
    # separator stays on its word ("/23", "-6": FUNSD keeps those whole)
    return re.compile(f"[^{chars}]+[{chars}]+|[^{chars}]+$")


def split_text(text: str, separators: str) -> list[str]:
    """``text`` cut after every run of ``separators`` that more text follows."""
    if not separators or len(text) < 3:
        return [text]
    pieces = [p for p in _splitter(separators).findall(text) if p]
    return pieces if len(pieces) > 1 and "".join(pieces) == text else [text]


def split_words(words: list[Word], separators: str) -> list[Word]:
    """Words split after inner ``separators`` (none: unchanged)."""
    if not separators:
        return words
    out: list[Word] = []
    for word in words:
        pieces = split_text(word.text, separators)
        if len(pieces) == 1:
            out.append(word)
            continue
        x0, y0, x1, y1 = word.box
        total, done = len(word.text), 0
        for piece in pieces:
            left = x0 + (x1 - x0) * done // total
            done += len(piece)
            right = x0 + (x1 - x0) * done // total
            out.append(replace(word, text=piece, box=(left, y0, max(right, left + 1), y1)))
    return out


__all__ = ["split_text", "split_words"]
