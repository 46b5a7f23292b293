"""Untrusted request bytes -> pages to read.

A document is an image (PNG, JPEG, TIFF, ...), a PDF, or either of them base64-encoded
(for plain-JSON clients of the KServe v2 HTTP API, where BYTES travel as text).  The
request may also carry the words and pixel boxes ("bring your own OCR").
"""
from __future__ import annotations

import base64
import binascii
import json

from layoutlmv3_triton.errors import RequestError
from layoutlmv3_triton.serving.images import decode_image
from layoutlmv3_triton.serving.limits import Limits
from layoutlmv3_triton.contract import is_pdf
from layoutlmv3_triton.serving.pdf import DEFAULT_PDF_DPI, PageInput, load_pdf

STAGE = "preprocess"
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8", b"II*\x00", b"MM\x00*", b"GIF8", b"BM", b"RIFF")


def maybe_base64(data: bytes) -> bytes:
    """Decode base64 text (optionally a data: URL); anything else is returned as is."""
    if data.startswith(_IMAGE_MAGIC) or is_pdf(data):
        return data
    text = data.strip()
    if text.startswith(b"data:") and b"," in text:
        text = text.split(b",", 1)[1]
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return data
    return decoded if decoded.startswith(_IMAGE_MAGIC) or is_pdf(decoded) else data


def load_document(data: bytes, limits: Limits = Limits(), pdf_dpi: float = DEFAULT_PDF_DPI,
                  words_json: bytes | None = None) -> list[PageInput]:
    if len(data) > limits.max_request_bytes:
        # checked before base64 decoding too: never spend work on an oversized request
        decode_image(data, limits)
    data = maybe_base64(data)
    pages = load_pdf(data, limits, pdf_dpi) if is_pdf(data) else [PageInput(decode_image(data, limits))]
    if words_json:
        apply_client_words(pages, words_json)
    return pages


def apply_client_words(pages: list[PageInput], words_json: bytes) -> None:
    """Words sent with the request replace OCR: {"words": [...], "boxes": [[x0,y0,x1,y1], ...]}
    for an image, or {"pages": [{"words": ..., "boxes": ...}, ...]} for each PDF page."""
    try:
        spec = json.loads(words_json)
        per_page = spec["pages"] if "pages" in spec else [spec]
    except (ValueError, TypeError, KeyError) as exc:
        raise RequestError(f"'words' must be JSON {{\"words\": [...], \"boxes\": [...]}}: {exc}", stage=STAGE) from exc
    if len(per_page) != len(pages):
        raise RequestError(f"'words' describes {len(per_page)} pages but the document has {len(pages)}", stage=STAGE)
    for number, (page, given) in enumerate(zip(pages, per_page)):
        words, boxes = given.get("words"), given.get("boxes")
        if not isinstance(words, list) or not isinstance(boxes, list) or len(words) != len(boxes):
            raise RequestError(f"page {number}: 'words' and 'boxes' must be lists of equal length", stage=STAGE)
        try:
            clean = [[int(round(float(v))) for v in box] for box in boxes]
        except (TypeError, ValueError) as exc:
            raise RequestError(f"page {number}: boxes must be numbers: {exc}", stage=STAGE) from exc
        if any(len(b) != 4 for b in clean):
            raise RequestError(f"page {number}: every box must be [x0, y0, x1, y1] in pixels", stage=STAGE)
        page.words, page.boxes = [str(w) for w in words], clean
        page.source, page.confidences = "client", [None] * len(words)
