"""What the request path knows about a page: the words OCR read on it.

``Word`` is the one word type of the request path: OCR engines make them, ``word_split``
splits them, ``segments`` turns their lines into boxes, and the encoder reads them.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Word:
    """One word read on the page, in the page image's pixels."""

    text: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels
    confidence: float | None = None
    line: int = -1  # the engine's text line on the page (0, 1, ...); segments.py turns lines into boxes
    block: int = -1  # the engine's block on the page
