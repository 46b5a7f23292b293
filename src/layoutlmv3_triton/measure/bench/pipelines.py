"""The two reference pipelines the ensemble is compared with, run in this process.

(a) **naive**: pytesseract (a ``tesseract`` subprocess per page), then the Hugging Face
    ``LayoutLMv3Processor``, then ``LayoutLMv3ForTokenClassification`` in PyTorch eager
    mode, one page after the other.
(b) **per-request**: the design of the original Triton example (tuttlebr/layoutlmv3-triton-server):
    each request runs pytesseract in a subprocess and the processor on its own, and the
    model runs in ONNX Runtime at batch size 1; no request is batched with another.
    It is run here at concurrency 1 without a server, which flatters it: no
    serialization, no network, no queues.

Both end the way the ensemble does: first-sub-token label per word, grouped into
entities (:func:`layoutlmv3_triton.serving.decoding.page_result`).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from layoutlmv3_triton import contract
from layoutlmv3_triton.serving.decoding import page_result, word_predictions
from layoutlmv3_triton.serving.encoding import normalize_boxes


@dataclass
class OcrWords:
    words: list[str]
    boxes: list[tuple[int, int, int, int]]  # pixels


def pytesseract_words(image: Image.Image, lang: str = "eng") -> OcrWords:
    """Words and pixel boxes from the ``tesseract`` binary through pytesseract.

    The subprocess runs with ``OMP_THREAD_LIMIT=1``.  Why: Debian's Tesseract is built with
    OpenMP, whose idle threads spin; on 2 cores that made a page take 3.0 s instead of
    0.75 s, a handicap that one environment variable removes and that would flatter the
    ensemble.  The variable reaches only the subprocess (pytesseract inherits os.environ);
    this process's own OpenMP runtime read its settings at start-up.
    """
    import os

    import pytesseract

    previous = os.environ.get("OMP_THREAD_LIMIT")
    os.environ["OMP_THREAD_LIMIT"] = "1"
    try:
        data = pytesseract.image_to_data(image, lang=lang, output_type=pytesseract.Output.DICT)
    finally:
        if previous is None:
            del os.environ["OMP_THREAD_LIMIT"]
        else:
            os.environ["OMP_THREAD_LIMIT"] = previous
    words, boxes = [], []
    for text, left, top, width, height in zip(data["text"], data["left"], data["top"], data["width"], data["height"]):
        text = (text or "").strip()
        if text:
            words.append(text)
            boxes.append((int(left), int(top), int(left + width), int(top + height)))
    return OcrWords(words, boxes)


@dataclass
class PipelineRun:
    """One sequential pass over the pages."""

    name: str
    latencies: list[float] = field(default_factory=list)  # seconds per page
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process and its tesseract subprocesses, over the pass
    words: list[list[str]] = field(default_factory=list)  # OCR words per page
    tokens: list[int] = field(default_factory=list)  # sequence length per page


class _Pipeline:
    name = "pipeline"

    def __init__(self, model_dir: Path, lang: str = "eng"):
        from layoutlmv3_triton.serving.encoding import load_processor
        from layoutlmv3_triton.serving.labels import load_id2label

        self.processor = load_processor(model_dir)
        self.id2label = load_id2label(Path(model_dir) / "config.json")
        self.lang = lang

    def _logits(self, encoding) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _tensor_type(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def document(self, data: bytes) -> tuple[dict, OcrWords, int]:
        image = Image.open(io.BytesIO(data)).convert("RGB")
        ocr = pytesseract_words(image, self.lang)
        boxes = normalize_boxes(ocr.boxes, image.width, image.height).tolist()
        words = ocr.words or [""]
        boxes = boxes or [[0, 0, 0, 0]]
        encoding = self.processor(
            image, words, boxes=boxes, truncation=True, max_length=512, return_tensors=self._tensor_type()
        )
        logits = self._logits(encoding)[0]
        word_ids = np.array([-1 if w is None else w for w in encoding.word_ids(0)], dtype=np.int64)
        label_ids, scores = word_predictions(logits, word_ids, len(ocr.words))
        result = page_result(
            ocr.words,
            [list(b) for b in ocr.boxes],
            label_ids,
            scores,
            self.id2label,
            width=image.width,
            height=image.height,
        )
        return result, ocr, int(word_ids.shape[0])

    def run(
        self, documents: Sequence[bytes], progress: Callable[[], None] | None = None, warmup: int = 1
    ) -> PipelineRun:
        for data in documents[:warmup]:
            self.document(data)
        from layoutlmv3_triton.measure.bench.cpu import own_cpu_seconds

        out = PipelineRun(self.name)
        cpu_start, start = own_cpu_seconds(), time.perf_counter()
        for data in documents:
            t0 = time.perf_counter()
            _, ocr, tokens = self.document(data)
            out.latencies.append(time.perf_counter() - t0)
            out.words.append(ocr.words)
            out.tokens.append(tokens)
            if progress:
                progress()
        out.wall_seconds = time.perf_counter() - start
        out.cpu_seconds = own_cpu_seconds() - cpu_start
        return out


class NaivePipeline(_Pipeline):
    """(a) pytesseract -> HF processor -> PyTorch eager."""

    name = "naive"

    def __init__(self, model_dir: Path, lang: str = "eng", threads: int | None = None):
        import torch
        from transformers import LayoutLMv3ForTokenClassification
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        super().__init__(model_dir, lang)
        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        self.model = LayoutLMv3ForTokenClassification.from_pretrained(str(model_dir), local_files_only=True).eval()

    def _tensor_type(self) -> str:
        return "pt"

    def _logits(self, encoding) -> np.ndarray:
        with self.torch.inference_mode():
            return self.model(**encoding).logits.numpy()


class PerRequestPipeline(_Pipeline):
    """(b) pytesseract subprocess -> processor -> ONNX Runtime at batch 1, per request."""

    name = "per-request"

    def __init__(self, model_dir: Path, onnx_path: Path, lang: str = "eng", threads: int = 0):
        import onnxruntime as ort

        super().__init__(model_dir, lang)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # 0: one per core, ONNX Runtime's default
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def _tensor_type(self) -> str:
        return "np"

    def _logits(self, encoding) -> np.ndarray:
        feed = {}
        for name in self.inputs:
            value = np.asarray(encoding[name])
            feed[name] = value.astype(np.float32 if name == contract.PIXEL_VALUES.name else np.int64)
        return self.session.run([contract.LOGITS.name], feed)[0]
