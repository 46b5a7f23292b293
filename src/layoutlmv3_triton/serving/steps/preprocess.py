"""Preprocess step: the Triton glue around serving/preprocessor.py (document bytes and
optional words in; the windows of every page out, as model inputs, token->word maps and
the page records that ride on each page's first window)."""

from __future__ import annotations

import os

import numpy as np

from layoutlmv3_triton import contract
from layoutlmv3_triton.errors import RequestError
from layoutlmv3_triton.serving.encoding import EncodedWindow, stack_windows
from layoutlmv3_triton.serving.page import Page
from layoutlmv3_triton.serving.preprocessor import STAGE, Preprocessor
from layoutlmv3_triton.serving.settings import PreprocessParameters
from layoutlmv3_triton.serving.steps import triton_io
from layoutlmv3_triton.serving.steps.diagnostics import HeapSnapshots
from layoutlmv3_triton.serving.steps.ocr_models import bls_models
from layoutlmv3_triton.serving.steps.triton_io import ModelArgs


def windows_of(pages: list[Page]) -> list[tuple[EncodedWindow, bytes]]:
    """Every window of the pages, in order; the page record rides on its first window only."""
    windows = []
    for page in pages:
        for number, window in enumerate(page.windows):
            windows.append((window, page.record().to_json() if number == 0 else b""))
    return windows


def step_outputs(pages: list[Page], dtypes: dict[str, str] | None = None) -> dict[str, np.ndarray]:
    """The step's output tensors for encoded pages: every window stacked into the model's
    inputs and word maps, the page records beside them."""
    windows = windows_of(pages)
    outputs = stack_windows([window for window, _ in windows], dtypes)
    outputs[contract.PAGE_WORDS.name] = triton_io.bytes_array([record for _, record in windows])
    return outputs


def _elements(request, tensor: contract.Tensor) -> list[bytes] | None:
    array = triton_io.input_array(request, tensor.name)
    if array is None:
        return None
    return [
        v if isinstance(v, bytes) else bytes(v) if not isinstance(v, str) else v.encode() for v in array.reshape(-1)
    ]


class TritonPythonModel:
    def initialize(self, args):
        # Several OCR instances share the cores: keep Tesseract single-threaded each.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        self.args = ModelArgs(args)
        self.heap = HeapSnapshots.from_parameters(self.args.instance, self.args.parameters)  # off by default
        self.params = PreprocessParameters.from_parameters(self.args.parameters)
        charset = self.args.version_dir / contract.OCR_CHARSET_FILE
        self.pre = Preprocessor(
            self.args.version_dir / contract.PROCESSOR_DIR, self.params, lambda: bls_models(charset)
        )
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

    def _outputs(self, documents: list[list[Page] | RequestError]) -> dict[str, np.ndarray]:
        for number, doc in enumerate(documents):
            if isinstance(doc, Exception):
                if len(documents) == 1 or not isinstance(doc, RequestError):
                    raise doc
                raise RequestError(f"document {number}: {doc.reason}", stage=doc.stage)
        pages = [page for doc in documents for page in doc]
        n_windows = sum(len(page.windows) for page in pages)
        if n_windows > self.params.limits.max_windows:
            raise RequestError(
                f"the request needs {n_windows} windows (pages x windows per page); the limit "
                f"is {self.params.limits.max_windows}",
                stage=STAGE,
            )
        return step_outputs(pages, self.dtypes)

    def finalize(self):
        self.pre.close()
