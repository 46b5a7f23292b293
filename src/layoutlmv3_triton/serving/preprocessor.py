"""Preprocess, the logic: untrusted document bytes -> :class:`~.page.Page` objects with their
words (the PDF's text layer, the client's, or OCR's) and their model windows (one or more
per page; a window is one model row).  The Triton step around it is steps/preprocess.py.

A document is an image (PNG, JPEG, TIFF, ...), a PDF, or either of them base64-encoded
(for plain-JSON clients of the KServe v2 HTTP API, where BYTES travel as text).  The
request may also carry the words and pixel boxes ("bring your own OCR").
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from layoutlmv3_triton.contract import is_pdf
from layoutlmv3_triton.errors import RequestError
from layoutlmv3_triton.serving.encoding import EncodedWindow, PageEncoder
from layoutlmv3_triton.serving.images import decode_image
from layoutlmv3_triton.serving.limits import Limits
from layoutlmv3_triton.serving.ocr_engines import open_engine
from layoutlmv3_triton.serving.page import Page, Word
from layoutlmv3_triton.serving.pdf import DEFAULT_PDF_DPI, load_pdf
from layoutlmv3_triton.serving.ppocr.engine import PpocrModels
from layoutlmv3_triton.serving.segments import boxes_at_level
from layoutlmv3_triton.serving.settings import PreprocessParameters

STAGE = "preprocess"


class Preprocessor:
    """One OCR engine and one processor, reused for every request.  ``ocr_models`` makes the
    ppocr engine's networks (BLS calls in the server, onnxruntime in-process)."""

    def __init__(
        self,
        processor_dir: str | Path,
        params: PreprocessParameters = PreprocessParameters(),
        ocr_models: Callable[[], PpocrModels] | None = None,
    ):
        self.params = params
        self.encoder = PageEncoder(
            processor_dir, stride=params.window_stride, max_windows_per_page=params.max_windows_per_page
        )
        self.engine = open_engine(params.ocr, params.ppocr, ocr_models)

    def read(self, data: bytes, words_json: bytes | None = None) -> list[Page]:
        """The document's pages, each with its words (OCR'd here when not known)."""
        return self._ocr(load_document(data, self.params.limits, self.params.pdf_dpi, words_json))

    def _ocr(self, pages: list[Page]) -> list[Page]:
        """Read every page that has no words yet, all in one go (the ppocr engine batches their lines)."""
        todo = [page for page in pages if page.words is None]
        for page, found in zip(todo, self.engine.read_pages([page.image for page in todo]) if todo else []):
            page.words = found
        return pages

    def process(
        self,
        documents: Sequence[bytes],
        words: Sequence[bytes | None] | None = None,
    ) -> list[list[Page] | RequestError]:
        """Each document gets its pages, read and encoded, or its own error; the pages of all
        documents are OCR'd together and encoded together."""
        words = words if words is not None else [None] * len(documents)
        limits, dpi = self.params.limits, self.params.pdf_dpi
        results = [_alone(load_document, data, limits, dpi, given) for data, given in zip(documents, words)]
        opened = [doc for doc in results if not isinstance(doc, RequestError)]
        if isinstance(_alone(self._ocr, [page for doc in opened for page in doc]), RequestError):
            # read each document alone, so that only the culprit's document fails
            results = [doc if isinstance(doc, RequestError) else _alone(self._ocr, doc) for doc in results]
        read = [(index, page) for index, doc in enumerate(results) if not isinstance(doc, RequestError) for page in doc]
        for (index, page), windows in zip(read, self._encode([page for _, page in read])):
            if isinstance(results[index], RequestError):
                continue  # an earlier page of this document failed
            if isinstance(windows, RequestError):
                results[index] = windows
            else:
                page.windows = windows
        return results

    def model_boxes(self, page: Page) -> list[list[float]]:
        """The boxes the model reads: word, line or block boxes, as it was trained (segments.py)."""
        words = page.words or []
        return boxes_at_level(
            [w.box for w in words], self.params.ocr.box_level, [w.line for w in words], [w.block for w in words]
        )

    def _encode(self, pages: list[Page]) -> list[list[EncodedWindow] | RequestError]:
        if not pages:
            return []
        try:
            return self.encoder.encode_windows(
                [p.image for p in pages],
                [[w.text for w in p.words] for p in pages],
                [self.model_boxes(p) for p in pages],
            )
        except Exception:  # noqa: BLE001 - isolate the page that broke the batch
            out: list[list[EncodedWindow] | RequestError] = []
            for p in pages:
                try:
                    out.extend(
                        self.encoder.encode_windows([p.image], [[w.text for w in p.words]], [self.model_boxes(p)])
                    )
                except Exception as exc:  # noqa: BLE001
                    out.append(
                        exc if isinstance(exc, RequestError) else RequestError(f"encoding failed: {exc}", stage=STAGE)
                    )
            return out

    def close(self) -> None:
        self.engine.close()


def _alone(fn: Callable, *args):
    """``fn(*args)``, or the one document's error it raised."""
    try:
        return fn(*args)
    except RequestError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - hostile bytes reach decoders and OCR: never fail the batch
        return RequestError(f"cannot read document: {type(exc).__name__}: {exc}", stage=STAGE)


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


def load_document(
    data: bytes, limits: Limits = Limits(), pdf_dpi: float = DEFAULT_PDF_DPI, words_json: bytes | None = None
) -> list[Page]:
    """The document's pages, numbered; each with its words when the PDF's text layer or the
    client gives them (else ``words`` is None: OCR reads them)."""
    if len(data) > limits.max_request_bytes:
        # checked before base64 decoding too: never spend work on an oversized request
        decode_image(data, limits)
    data = maybe_base64(data)
    pages = load_pdf(data, limits, pdf_dpi) if is_pdf(data) else [Page(decode_image(data, limits))]
    if words_json:
        apply_client_words(pages, words_json)
    return pages


def apply_client_words(pages: list[Page], words_json: bytes) -> None:
    """Words sent with the request replace OCR: {"words": [...], "boxes": [[x0,y0,x1,y1], ...]}
    for an image, or {"pages": [{"words": ..., "boxes": ...}, ...]} for each PDF page."""
    try:
        spec = json.loads(words_json)
        per_page = spec["pages"] if "pages" in spec else [spec]
    except (ValueError, TypeError, KeyError) as exc:
        raise RequestError(f'\'words\' must be JSON {{"words": [...], "boxes": [...]}}: {exc}', stage=STAGE) from exc
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
        page.words = [Word(str(w), tuple(b)) for w, b in zip(words, clean)]
        page.source = "client"
