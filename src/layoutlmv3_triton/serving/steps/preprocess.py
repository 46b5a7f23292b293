"""Preprocess step: document bytes -> pages -> words (text layer, client or OCR) ->
LayoutLMv3 sequences, one or more windows per page."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from layoutlmv3_triton import contract
from layoutlmv3_triton.serving.documents import load_document
from layoutlmv3_triton.serving.encoding import DEFAULT_MAX_WINDOWS, EncodedPage, PageEncoder
from layoutlmv3_triton.errors import RequestError
from layoutlmv3_triton.serving.limits import Limits
from layoutlmv3_triton.serving.ocr import OcrConfig, TesseractEngine
from layoutlmv3_triton.serving.pdf import PageInput
from layoutlmv3_triton.serving.windows import DEFAULT_STRIDE
from layoutlmv3_triton.serving.steps import triton_io
from layoutlmv3_triton.serving.steps.triton_io import ModelArgs

STAGE = "preprocess"


@dataclass
class PreparedPage:
    windows: list[EncodedPage]  # one sequence per window; word_ids index the page's words
    page_words: dict  # words, boxes, confidences, page size, page number (0 starts a document)

    @property
    def encoded(self) -> EncodedPage:
        return self.windows[0]

    def page_words_json(self) -> bytes:
        return json.dumps(self.page_words, separators=(",", ":")).encode()


class Preprocessor:
    """One Tesseract engine and one processor, reused for every request."""

    def __init__(self, processor_dir: str | Path, ocr: OcrConfig = OcrConfig(), limits: Limits = Limits(),
                 pdf_dpi: float = 150.0, stride: int = DEFAULT_STRIDE, max_windows: int = DEFAULT_MAX_WINDOWS):
        self.encoder = PageEncoder(processor_dir, stride=stride, max_windows=max_windows)
        self.engine = TesseractEngine(ocr)
        self.limits = limits
        self.pdf_dpi = pdf_dpi

    def read(self, data: bytes, words_json: bytes | None = None) -> list[PageInput]:
        """The document's pages, each with its words (OCR'd here when not known)."""
        pages = load_document(data, self.limits, self.pdf_dpi, words_json)
        for page in pages:
            if page.words is None:
                found = self.engine.read(page.image)
                page.words, page.boxes = [w.text for w in found], [list(w.box) for w in found]
                page.confidences = [w.confidence for w in found]
        return pages

    def process(self, documents: Sequence[bytes], words: Sequence[bytes | None] | None = None,
                ) -> list[list[PreparedPage] | RequestError]:
        """Each document gets its pages or its own error; all pages are encoded together."""
        words = words if words is not None else [None] * len(documents)
        results: list[list[PreparedPage] | RequestError] = []
        read: list[tuple[int, int, PageInput]] = []
        for index, (data, given) in enumerate(zip(documents, words)):
            try:
                pages = self.read(data, given)
                read.extend((index, number, page) for number, page in enumerate(pages))
                results.append([])
            except RequestError as exc:
                results.append(exc)
            except Exception as exc:  # noqa: BLE001 - hostile bytes reach decoders and OCR: never fail the batch
                results.append(RequestError(f"cannot read document: {type(exc).__name__}: {exc}", stage=STAGE))
        for (index, number, page), windows in zip(read, self._encode([p for _, _, p in read])):
            target = results[index]
            if isinstance(target, RequestError):
                continue
            if isinstance(windows, RequestError):
                results[index] = windows
                continue
            target.append(PreparedPage(windows, {
                "page": number, "width": page.image.width, "height": page.image.height,
                "source": page.source, "windows": len(windows), "words": page.words, "boxes": page.boxes,
                "confidences": page.confidences,
            }))
        return results

    def _encode(self, pages: list[PageInput]) -> list[list[EncodedPage] | RequestError]:
        if not pages:
            return []
        try:
            return self.encoder.encode_windows([p.image for p in pages], [p.words for p in pages],
                                               [p.boxes for p in pages])
        except Exception:  # noqa: BLE001 - isolate the page that broke the batch
            out: list[list[EncodedPage] | RequestError] = []
            for p in pages:
                try:
                    out.extend(self.encoder.encode_windows([p.image], [p.words], [p.boxes]))
                except Exception as exc:  # noqa: BLE001
                    out.append(exc if isinstance(exc, RequestError) else RequestError(f"encoding failed: {exc}", stage=STAGE))
            return out

    def close(self) -> None:
        self.engine.close()


def rows_of(pages: list[PreparedPage]) -> list[tuple[EncodedPage, bytes]]:
    """One row per sequence; the page's JSON rides on its first window only."""
    rows = []
    for page in pages:
        for number, window in enumerate(page.windows):
            rows.append((window, page.page_words_json() if number == 0 else b""))
    return rows


def stack_windows(windows: list[EncodedPage], dtypes: dict | None = None) -> dict[str, np.ndarray]:
    """Model inputs and word maps of several sequences as one batch, padded to the longest."""
    length = max(window.input_ids.shape[0] for window in windows)
    outputs = {}
    for t in contract.MODEL_INPUTS + (contract.WORD_IDS,):
        arrays = [getattr(window, t.name) for window in windows]
        fill = -1 if t is contract.WORD_IDS else 0
        stacked = np.stack(arrays) if t is contract.PIXEL_VALUES else triton_io.pad_stack(arrays, length, fill)
        outputs[t.name] = stacked.astype(dtypes[t.name], copy=False) if dtypes else stacked
    return outputs


def _elements(request, tensor: contract.Tensor) -> list[bytes] | None:
    array = triton_io.input_array(request, tensor.name)
    if array is None:
        return None
    return [v if isinstance(v, bytes) else bytes(v) if not isinstance(v, str) else v.encode() for v in array.reshape(-1)]


class TritonPythonModel:
    def initialize(self, args):
        # Several OCR instances share the cores: keep Tesseract single-threaded each.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        self.args = ModelArgs(args)
        params = self.args.parameters
        self.limits = Limits.from_parameters(params)
        self.pre = Preprocessor(self.args.version_dir / contract.PROCESSOR_DIR, OcrConfig.from_parameters(params),
                                self.limits, pdf_dpi=float(params.get("pdf_dpi", 150)),
                                stride=int(params.get("window_stride", DEFAULT_STRIDE)),
                                max_windows=int(params.get("max_windows_per_page", DEFAULT_MAX_WINDOWS)))
        self.dtypes = {t.name: self.args.output_dtype(t.name) for t in contract.PREPROCESS_OUTPUTS}

    def _request(self, request) -> tuple[list[bytes], list[bytes | None]]:
        documents = _elements(request, contract.DOCUMENT)
        if not documents:
            raise RequestError(f"the request carried no {contract.DOCUMENT.name!r}", stage=STAGE)
        words = _elements(request, contract.WORDS)
        if words is None:
            return documents, [None] * len(documents)
        if len(words) != len(documents):
            raise RequestError(f"{len(words)} 'words' elements for {len(documents)} documents", stage=STAGE)
        return documents, [w or None for w in words]

    def execute(self, requests):
        parsed: list[tuple[list[bytes], list[bytes | None]] | RequestError] = []
        for request in requests:
            try:
                parsed.append(self._request(request))
            except RequestError as exc:
                parsed.append(exc)
        flat_docs = [d for p in parsed if not isinstance(p, RequestError) for d in p[0]]
        flat_words = [w for p in parsed if not isinstance(p, RequestError) for w in p[1]]
        prepared = iter(self.pre.process(flat_docs, flat_words))
        responses = []
        for item in parsed:
            if isinstance(item, RequestError):
                responses.append(triton_io.error_response(item, STAGE))
                continue
            documents = [next(prepared) for _ in item[0]]
            try:
                responses.append(triton_io.ok_response(self._outputs(documents)))
            except RequestError as exc:
                responses.append(triton_io.error_response(exc, STAGE))
        return responses

    def _outputs(self, documents: list[list[PreparedPage] | RequestError]) -> dict[str, np.ndarray]:
        for number, doc in enumerate(documents):
            if isinstance(doc, RequestError):
                raise doc if len(documents) == 1 else RequestError(f"document {number}: {doc.reason}", stage=doc.stage)
        rows = rows_of([page for doc in documents for page in doc])
        if len(rows) > self.limits.max_sequences:
            raise RequestError(f"the request needs {len(rows)} sequences (pages x windows); the limit is "
                               f"{self.limits.max_sequences}", stage=STAGE)
        outputs = stack_windows([window for window, _ in rows], self.dtypes)
        outputs[contract.PAGE_WORDS.name] = triton_io.bytes_array([page_json for _, page_json in rows])
        return outputs

    def finalize(self):
        self.pre.close()
