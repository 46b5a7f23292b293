"""Preprocess step: bytes -> page image -> OCR words -> LayoutLMv3 inputs."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import contract
from ..encoding import EncodedPage, PageEncoder
from ..errors import RequestError
from ..images import decode_image
from ..limits import Limits
from ..ocr import OcrConfig, TesseractEngine
from . import triton_io
from .triton_io import ModelArgs

STAGE = "preprocess"


@dataclass
class PreparedPage:
    encoded: EncodedPage
    page_words: dict  # words, boxes, confidences and page size, for postprocess

    def page_words_json(self) -> bytes:
        return json.dumps(self.page_words, separators=(",", ":")).encode()


class Preprocessor:
    """One Tesseract engine and one processor, reused for every request."""

    def __init__(self, processor_dir: str | Path, ocr: OcrConfig = OcrConfig(), limits: Limits = Limits()):
        self.encoder = PageEncoder(processor_dir)
        self.engine = TesseractEngine(ocr)
        self.limits = limits

    def process(self, documents: Sequence[bytes]) -> list[PreparedPage | RequestError]:
        """Each document gets a page or its own error; good ones are encoded together."""
        results: list[PreparedPage | RequestError | None] = [None] * len(documents)
        pages = []
        for index, data in enumerate(documents):
            try:
                image = decode_image(data, self.limits)
                words = self.engine.read(image)
                pages.append((index, image, words))
            except RequestError as exc:
                results[index] = exc
        for (index, image, words), encoded in zip(pages, self._encode(pages)):
            if isinstance(encoded, RequestError):
                results[index] = encoded
                continue
            results[index] = PreparedPage(encoded, {
                "page": 0, "width": image.width, "height": image.height, "source": "ocr",
                "words": [w.text for w in words], "boxes": [list(w.box) for w in words],
                "confidences": [w.confidence for w in words],
            })
        return results  # type: ignore[return-value]

    def _encode(self, pages) -> list[EncodedPage | RequestError]:
        if not pages:
            return []
        images = [p[1] for p in pages]
        texts = [[w.text for w in p[2]] for p in pages]
        boxes = [[w.box for w in p[2]] for p in pages]
        try:
            return self.encoder.encode_batch(images, texts, boxes)
        except Exception:  # noqa: BLE001 - isolate the page that broke the batch
            out: list[EncodedPage | RequestError] = []
            for image, t, b in zip(images, texts, boxes):
                try:
                    out.append(self.encoder.encode(image, t, b))
                except Exception as exc:  # noqa: BLE001
                    out.append(exc if isinstance(exc, RequestError) else RequestError(f"encoding failed: {exc}", stage=STAGE))
            return out

    def close(self) -> None:
        self.engine.close()


def request_documents(request) -> list[bytes]:
    array = triton_io.require_input(request, contract.DOCUMENT.name, STAGE)
    if array.size == 0:
        raise RequestError("the request carried no document", stage=STAGE)
    return [bytes(v) if not isinstance(v, bytes) else v for v in array.reshape(-1)]


class TritonPythonModel:
    def initialize(self, args):
        # Several OCR instances share the cores: keep Tesseract single-threaded each.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        self.args = ModelArgs(args)
        params = self.args.parameters
        self.pre = Preprocessor(self.args.version_dir / contract.PROCESSOR_DIR, OcrConfig.from_parameters(params),
                                Limits.from_parameters(params))
        self.dtypes = {t.name: self.args.output_dtype(t.name) for t in contract.PREPROCESS_OUTPUTS}

    def execute(self, requests):
        per_request: list[list[bytes] | RequestError] = []
        for request in requests:
            try:
                per_request.append(request_documents(request))
            except RequestError as exc:
                per_request.append(exc)
        flat = [d for docs in per_request if isinstance(docs, list) for d in docs]
        prepared = iter(self.pre.process(flat))
        responses = []
        for docs in per_request:
            if isinstance(docs, RequestError):
                responses.append(triton_io.error_response(docs, STAGE))
                continue
            pages = [next(prepared) for _ in docs]
            errors = [p for p in pages if isinstance(p, RequestError)]
            if errors:
                responses.append(triton_io.error_response(errors[0], STAGE))
            else:
                responses.append(triton_io.ok_response(self._outputs(pages)))
        return responses

    def _outputs(self, pages: list[PreparedPage]) -> dict[str, np.ndarray]:
        length = max(p.encoded.input_ids.shape[0] for p in pages)
        outputs = {}
        for t in contract.MODEL_INPUTS + (contract.WORD_IDS,):
            arrays = [getattr(p.encoded, t.name) for p in pages]
            fill = -1 if t is contract.WORD_IDS else 0
            stacked = np.stack(arrays) if t is contract.PIXEL_VALUES else triton_io.pad_stack(arrays, length, fill)
            outputs[t.name] = stacked.astype(self.dtypes[t.name], copy=False)
        outputs[contract.PAGE_WORDS.name] = triton_io.bytes_array([p.page_words_json() for p in pages])
        return outputs

    def finalize(self):
        self.pre.close()
