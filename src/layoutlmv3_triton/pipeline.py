"""The ensemble's three steps in one process, from a built model repository.

Same OCR, same processor, same ONNX, same decoding as the served ensemble: the
reference the served results are tested against, and a convenient local API.
"""
from __future__ import annotations

import json
from pathlib import Path

from . import contract
from .backends.onnx_model import OnnxTokenClassifier
from .backends.postprocess import Postprocessor
from .backends.preprocess import Preprocessor
from .errors import RequestError
from .limits import Limits
from .ocr import OcrConfig


class InProcessPipeline:
    def __init__(self, repository: str | Path, ocr: OcrConfig = OcrConfig(), limits: Limits = Limits(),
                 threads: int = 0):
        repository = Path(repository)
        self.pre = Preprocessor(repository / contract.PREPROCESS / "1" / contract.PROCESSOR_DIR, ocr, limits)
        self.model = OnnxTokenClassifier(repository / contract.MODEL / "1" / contract.ONNX_FILE, threads)
        self.post = Postprocessor(repository / contract.POSTPROCESS / "1" / contract.MODEL_CONFIG_FILE)

    def __call__(self, document: bytes) -> dict:
        prepared = self.pre.process([document])[0]
        if isinstance(prepared, RequestError):
            raise prepared
        inputs = {k: v[None] for k, v in prepared.encoded.model_inputs().items()}
        logits = self.model.run(inputs)[0]
        page = self.post.page(logits, prepared.encoded.word_ids, prepared.page_words)
        return json.loads(self.post.document([page]))

    def close(self) -> None:
        self.pre.close()
