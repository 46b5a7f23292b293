"""The request path's one page type, and its words.

A :class:`Page` is made when the preprocessor opens a document (an image, or each page of a
PDF: pdf.py), gets its :class:`Word` list from the PDF's text layer, the client or OCR, and
its model windows from the encoder (preprocessor.py).  What the postprocess step needs of it
travels as a :class:`~layoutlmv3_triton.records.PageRecord` (:meth:`Page.record`).

``Word`` is the one word type of the request path: OCR engines make them, ``word_split``
splits them, ``segments`` turns their lines into boxes, and the encoder reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

from layoutlmv3_triton.records import PageRecord
from layoutlmv3_triton.serving.encoding import EncodedWindow


@dataclass(frozen=True)
class Word:
    """One word read on the page, in the page image's pixels."""

    text: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels
    confidence: float | None = None
    line: int = -1  # the engine's text line on the page (0, 1, ...); segments.py turns lines into boxes
    block: int = -1  # the engine's block on the page


@dataclass
class Page:
    """One page of a document on its way through preprocess."""

    image: Image.Image  # RGB, in the pixels every box refers to
    number: int = 0  # the page's number in its document (0 starts a document)
    words: list[Word] | None = None  # None until read: then OCR reads them
    source: str = "ocr"  # where the words came from: one of records.PAGE_SOURCES
    windows: list[EncodedWindow] = field(default_factory=list)  # the model rows, once encoded

    def record(self) -> PageRecord:
        """What the postprocess step is told about this page (raises the preprocess stage's
        error if it cannot be built)."""
        words = self.words or []
        return PageRecord(
            page=self.number,
            width=self.image.width,
            height=self.image.height,
            source=self.source,
            words=[w.text for w in words],
            boxes=[list(w.box) for w in words],
            confidences=[w.confidence for w in words],
        )
