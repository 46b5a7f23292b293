"""Records that cross a process boundary, with one typed definition each.

:class:`PageRecord` is what the preprocess step tells the postprocess step about a page:
it rides, as JSON, in the ``page_words`` tensor of the page's first window (its further
windows carry an empty element).  The preprocess step builds it from its
:class:`~layoutlmv3_triton.serving.page.Page`; the postprocess step reads it back with
:meth:`PageRecord.from_json`.  A malformed record raises the error of the stage that builds
it: :class:`~.errors.EncodingError` (preprocess) when constructed, :class:`~.errors.DecodingError`
(postprocess) when read from JSON.  Standard library only, like :mod:`.contract`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from layoutlmv3_triton.errors import DecodingError, EncodingError

PAGE_SOURCES = ("ocr", "pdf-text", "client")


@dataclass(frozen=True)
class PageRecord:
    page: int  # the page's number in its document: 0 starts a new document of the request
    width: int  # page image size in pixels
    height: int
    source: str  # where the words came from: one of PAGE_SOURCES
    words: list[str]
    boxes: list[list[float]]  # [x0, y0, x1, y1] per word, in pixels
    confidences: list[float | None] | None = None  # OCR confidence per word, when OCR read it

    def __post_init__(self):
        problems = _problems(self)
        if problems:
            raise EncodingError(f"malformed page record: {'; '.join(problems)}")

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, value: Any) -> PageRecord:
        try:
            data = json.loads(value if isinstance(value, (bytes, str)) else bytes(value))
        except (ValueError, TypeError) as exc:
            raise DecodingError(f"malformed page record: not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise DecodingError("malformed page record: not a JSON object")
        names = {"page", "width", "height", "source", "words", "boxes", "confidences"}
        missing, unknown = names - {"confidences"} - data.keys(), data.keys() - names
        if missing or unknown:
            raise DecodingError(f"malformed page record: missing {sorted(missing)}, unknown {sorted(unknown)}")
        try:
            return cls(**data)
        except EncodingError as exc:  # read here, so malformed here: the postprocess stage's error
            raise DecodingError(exc.reason) from None


def _problems(record: PageRecord) -> list[str]:
    problems = []
    for name in ("page", "width", "height"):
        value = getattr(record, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            problems.append(f"{name} must be a non-negative integer, not {value!r}")
    if record.source not in PAGE_SOURCES:
        problems.append(f"source must be one of {PAGE_SOURCES}, not {record.source!r}")
    if not isinstance(record.words, list) or not all(isinstance(w, str) for w in record.words):
        problems.append("words must be a list of strings")
    elif not isinstance(record.boxes, list) or len(record.boxes) != len(record.words):
        problems.append("boxes must be a list with one box per word")
    elif not all(isinstance(b, (list, tuple)) and len(b) == 4 for b in record.boxes):
        problems.append("each box must be [x0, y0, x1, y1]")
    if record.confidences is not None and (
        not isinstance(record.confidences, list) or len(record.confidences) != len(record.words)
    ):
        problems.append("confidences must be null or a list with one value per word")
    return problems
