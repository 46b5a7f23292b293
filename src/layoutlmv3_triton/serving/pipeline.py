"""The ensemble's three steps in one process, from a built model repository.

Same document loading, OCR, processor, windows, ONNX and decoding as the served
ensemble: the reference the served results are tested against, and a local API.
"""
from __future__ import annotations

import json
from pathlib import Path

from layoutlmv3_triton import contract
from layoutlmv3_triton.serving.steps.onnx_model import OnnxTokenClassifier
from layoutlmv3_triton.serving.steps.postprocess import Postprocessor
from layoutlmv3_triton.serving.steps.preprocess import Preprocessor, stack_windows
from layoutlmv3_triton.errors import RequestError
from layoutlmv3_triton.serving.limits import Limits
from layoutlmv3_triton.serving.ocr import OcrConfig


class InProcessPipeline:
    def __init__(self, repository: str | Path, ocr: OcrConfig = OcrConfig(), limits: Limits = Limits(),
                 threads: int = 0, **preprocess_options):
        repository = Path(repository)
        self.pre = Preprocessor(repository / contract.PREPROCESS / "1" / contract.PROCESSOR_DIR, ocr, limits,
                                **preprocess_options)
        self.model = OnnxTokenClassifier(repository / contract.MODEL / "1" / contract.ONNX_FILE, threads)
        self.post = Postprocessor(repository / contract.POSTPROCESS / "1" / contract.MODEL_CONFIG_FILE)

    def __call__(self, document: bytes, words_json: bytes | None = None) -> dict:
        prepared = self.pre.process([document], [words_json])[0]
        if isinstance(prepared, RequestError):
            raise prepared
        pages = []
        for page in prepared:
            batch = stack_windows(page.windows)
            logits = self.model.run({t.name: batch[t.name] for t in contract.MODEL_INPUTS})
            pages.append(self.post.page(list(logits), list(batch[contract.WORD_IDS.name]), page.page_words))
        return json.loads(self.post.document(pages))

    def close(self) -> None:
        self.pre.close()
