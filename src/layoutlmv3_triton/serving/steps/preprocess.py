"""Preprocess step: document bytes -> pages -> words (text layer, client or OCR) ->
LayoutLMv3 windows, one or more per page (a window is one model row)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from layoutlmv3_triton import contract
from layoutlmv3_triton.errors import RequestError
from layoutlmv3_triton.records import PageRecord
from layoutlmv3_triton.serving.documents import load_document
from layoutlmv3_triton.serving.encoding import EncodedWindow, PageEncoder
from layoutlmv3_triton.serving.ocr_engines import open_engine
from layoutlmv3_triton.serving.ppocr.engine import PpocrModels
from layoutlmv3_triton.serving.pdf import PageInput
from layoutlmv3_triton.serving.segments import boxes_at_level
from layoutlmv3_triton.serving.steps import triton_io
from layoutlmv3_triton.serving.steps.ocr_models import bls_models
from layoutlmv3_triton.serving.steps.parameters import PreprocessParameters
from layoutlmv3_triton.serving.steps.diagnostics import HeapSnapshots
from layoutlmv3_triton.serving.steps.triton_io import ModelArgs

STAGE = "preprocess"


@dataclass
class PreparedPage:
    windows: list[EncodedWindow]  # word_ids index the page's words
    record: PageRecord


class Preprocessor:
    """One OCR engine and one processor, reused for every request.  ``ocr_models`` makes the
    ppocr engine's networks (BLS calls in the server, onnxruntime in-process)."""

    def __init__(self, processor_dir: str | Path, params: PreprocessParameters = PreprocessParameters(),
                 ocr_models: Callable[[], PpocrModels] | None = None):
        self.params = params
        self.encoder = PageEncoder(processor_dir, stride=params.window_stride,
                                   max_windows_per_page=params.max_windows_per_page)
        self.engine = open_engine(params.ocr, params.ppocr, ocr_models)

    def read(self, data: bytes, words_json: bytes | None = None) -> list[PageInput]:
        """The document's pages, each with its words (OCR'd here when not known)."""
        pages = load_document(data, self.params.limits, self.params.pdf_dpi, words_json)
        self._ocr(pages)
        return pages

    def _ocr(self, pages: list[PageInput]) -> None:
        """Read every page that has no words yet, all in one go (the ppocr engine batches their lines)."""
        todo = [page for page in pages if page.words is None]
        for page, found in zip(todo, self.engine.read_pages([page.image for page in todo]) if todo else []):
            page.words, page.boxes = [w.text for w in found], [list(w.box) for w in found]
            page.confidences = [w.confidence for w in found]
            page.lines, page.blocks = [w.line for w in found], [w.block for w in found]

    def process(self, documents: Sequence[bytes], words: Sequence[bytes | None] | None = None,
                ) -> list[list[PreparedPage] | RequestError]:
        """Each document gets its pages or its own error; all pages are encoded together."""
        words = words if words is not None else [None] * len(documents)
        results: list[list[PreparedPage] | RequestError] = []
        read: list[tuple[int, int, PageInput]] = []
        loaded: list[tuple[int, list[PageInput]]] = []
        for index, (data, given) in enumerate(zip(documents, words)):
            try:
                loaded.append((index, load_document(data, self.params.limits, self.params.pdf_dpi, given)))
                results.append([])
            except RequestError as exc:
                results.append(exc)
            except Exception as exc:  # noqa: BLE001 - hostile bytes reach decoders and OCR: never fail the batch
                results.append(RequestError(f"cannot read document: {type(exc).__name__}: {exc}", stage=STAGE))
        failed = triton_io.attempt(STAGE, self._ocr, [page for _, pages in loaded for page in pages])
        for index, pages in loaded:
            if isinstance(failed, Exception):  # read alone, so that only the culprit's document fails
                alone = triton_io.attempt(STAGE, self._ocr, pages)
                if isinstance(alone, Exception):
                    results[index] = alone if isinstance(alone, RequestError) else RequestError(
                        f"cannot read document: {type(alone).__name__}: {alone}", stage=STAGE)
                    continue
            read.extend((index, number, page) for number, page in enumerate(pages))
        for (index, number, page), windows in zip(read, self._encode([p for _, _, p in read])):
            target = results[index]
            if isinstance(target, RequestError):
                continue
            if isinstance(windows, RequestError):
                results[index] = windows
                continue
            target.append(PreparedPage(windows, PageRecord(
                page=number, width=page.image.width, height=page.image.height, source=page.source,
                words=page.words, boxes=page.boxes, confidences=page.confidences)))
        return results

    def model_boxes(self, page: PageInput) -> list[list[float]]:
        """The boxes the model reads: word, line or block boxes, as it was trained (segments.py)."""
        return boxes_at_level(page.boxes, self.params.ocr.box_level, page.lines, page.blocks)

    def _encode(self, pages: list[PageInput]) -> list[list[EncodedWindow] | RequestError]:
        if not pages:
            return []
        try:
            return self.encoder.encode_windows([p.image for p in pages], [p.words for p in pages],
                                               [self.model_boxes(p) for p in pages])
        except Exception:  # noqa: BLE001 - isolate the page that broke the batch
            out: list[list[EncodedWindow] | RequestError] = []
            for p in pages:
                try:
                    out.extend(self.encoder.encode_windows([p.image], [p.words], [self.model_boxes(p)]))
                except Exception as exc:  # noqa: BLE001
                    out.append(exc if isinstance(exc, RequestError) else RequestError(f"encoding failed: {exc}", stage=STAGE))
            return out

    def close(self) -> None:
        self.engine.close()


def windows_of(pages: list[PreparedPage]) -> list[tuple[EncodedWindow, bytes]]:
    """Every window of the pages, in order; the page record rides on its first window only."""
    windows = []
    for page in pages:
        for number, window in enumerate(page.windows):
            windows.append((window, page.record.to_json() if number == 0 else b""))
    return windows


def stack_windows(windows: list[EncodedWindow], dtypes: dict | None = None) -> dict[str, np.ndarray]:
    """Model inputs and word maps of several windows as one batch, padded to the longest."""
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
        self.heap = HeapSnapshots.from_parameters(self.args.instance, self.args.parameters)  # off by default
        self.params = PreprocessParameters.from_parameters(self.args.parameters)
        charset = self.args.version_dir / contract.OCR_CHARSET_FILE
        self.pre = Preprocessor(self.args.version_dir / contract.PROCESSOR_DIR, self.params,
                                lambda: bls_models(charset))
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
        """All documents of all requests are read and encoded together; each request then
        gets its own response, and any failure, expected or not, answers only its request."""
        self.heap.tick()
        parsed = [triton_io.attempt(STAGE, self._request, request) for request in requests]
        flat_docs = [d for p in parsed if not isinstance(p, Exception) for d in p[0]]
        flat_words = [w for p in parsed if not isinstance(p, Exception) for w in p[1]]
        prepared = iter(self._prepare(flat_docs, flat_words, parsed))
        responses = []
        for item in parsed:
            if isinstance(item, Exception):
                responses.append(triton_io.error_response(item, STAGE))
                continue
            documents = [next(prepared) for _ in item[0]]
            responses.append(triton_io.respond(STAGE, self._outputs, documents))
        return responses

    def _prepare(self, documents: list[bytes], words: list[bytes | None], parsed: list) -> list:
        """Read and encode every document in one go; should that itself fail, once per request."""
        prepared = triton_io.attempt(STAGE, self.pre.process, documents, words)
        if not isinstance(prepared, Exception):
            return prepared
        out: list = []
        for item in parsed:
            if not isinstance(item, Exception):
                alone = triton_io.attempt(STAGE, self.pre.process, *item)
                out.extend([alone] * len(item[0]) if isinstance(alone, Exception) else alone)
        return out

    def _outputs(self, documents: list[list[PreparedPage] | RequestError]) -> dict[str, np.ndarray]:
        for number, doc in enumerate(documents):
            if isinstance(doc, Exception):
                if len(documents) == 1 or not isinstance(doc, RequestError):
                    raise doc
                raise RequestError(f"document {number}: {doc.reason}", stage=doc.stage)
        windows = windows_of([page for doc in documents for page in doc])
        if len(windows) > self.params.limits.max_windows:
            raise RequestError(f"the request needs {len(windows)} windows (pages x windows per page); the limit "
                               f"is {self.params.limits.max_windows}", stage=STAGE)
        outputs = stack_windows([window for window, _ in windows], self.dtypes)
        outputs[contract.PAGE_WORDS.name] = triton_io.bytes_array([record for _, record in windows])
        return outputs

    def finalize(self):
        self.pre.close()
