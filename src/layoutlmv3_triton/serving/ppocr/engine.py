"""The PP-OCR engine: pages in, :class:`~layoutlmv3_triton.serving.page.Word` lists out.

The engine does not run the networks itself: it is given two callables, ``detect`` (a
``[1, 3, H, W]`` page -> ``[1, 1, H, W]`` text probability map) and ``recognise`` (a
``[n, 3, 48, W]`` batch of line crops -> per column the character id and its probability).
In the server they send BLS requests to the ``ocr_detection`` and ``ocr_recognition``
models (serving/steps/ocr_models.py); everywhere else they run the same ONNX graphs in
onnxruntime (:class:`OnnxRunner`).  Line crops of all the pages read together go out as
one set of recognition batches, narrow lines with narrow lines.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from layoutlmv3_triton.errors import OcrError
from layoutlmv3_triton.serving.page import Word
from layoutlmv3_triton.serving.ppocr import detection, recognition
from layoutlmv3_triton.serving.ppocr.config import PpocrConfig

Detect = Callable[[np.ndarray], np.ndarray]
Recognise = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
BLOCK_GAP = 0.5  # line heights: a line this close under another, starting where it starts, shares its block


def read_charset(path: str | Path) -> list[str]:
    """The recogniser's characters, one per line, as build-repo writes them: id ``i`` is line ``i``
    (line 0 is CTC's blank, written as an empty line)."""
    text = Path(path).read_text(encoding="utf-8")
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")


@dataclass
class PpocrModels:
    """Ways to run the two networks, and the recogniser's characters."""

    detect: Detect
    recognise: Recognise
    charset: list[str]
    close: Callable[[], None] | None = None


@dataclass
class _Page:
    image: Image.Image
    boxes: list[detection.TextBox]
    crops: list[recognition.LineCrop]


class PpocrEngine:
    """Reads pages with PP-OCR's detector and recogniser, given ways to run them."""

    def __init__(
        self,
        models: PpocrModels,
        config: PpocrConfig = PpocrConfig(),
        split_after: str = "",
        min_confidence: float = 0.0,
    ):
        if len(models.charset) < 2 or models.charset[0] != "":
            raise OcrError(
                "the recogniser's character list must start with CTC's blank (an empty line)", stage="ocr-setup"
            )
        self.models, self.charset = models, list(models.charset)
        self.config, self.split_after, self.min_confidence = config, split_after, min_confidence

    def read(self, image: Image.Image) -> list[Word]:
        return self.read_pages([image])[0]

    def read_pages(self, images: Sequence[Image.Image]) -> list[list[Word]]:
        """Each page's words in reading order, boxes in that page's pixels, confidences 0..100."""
        pages = [self._detect(image) for image in images]
        crops = [(p, i) for p, page in enumerate(pages) for i in range(len(page.crops))]
        lines: dict[tuple[int, int], recognition.ReadLine] = {}
        for members, batch in recognition.batches(
            [pages[p].crops[i] for p, i in crops], self.config.rec_batch, self.config.rec_min_width
        ):
            ids, probs = self._recognise(batch)
            for row, member in enumerate(members):
                p, i = crops[member]
                read = ids.shape[1] * pages[p].crops[i].width / batch.shape[3]
                lines[(p, i)] = recognition.ctc_decode(ids[row], probs[row], self.charset, read)
        return [self._words(page, [lines[(p, i)] for i in range(len(page.crops))]) for p, page in enumerate(pages)]

    def _detect(self, image: Image.Image) -> _Page:
        image = image.convert("RGB")
        scale = detection.detection_scale(image, self.config)
        prob = self.models.detect(detection.detector_input(image, scale))
        boxes = detection.boxes_from_map(prob, image.size, self.config)
        crops = [recognition.crop_line(image, b, self.config.rec_max_width, self.config.rec_width_scale) for b in boxes]
        return _Page(image, boxes, crops)

    def _recognise(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids, probs = self.models.recognise(batch)
        ids, probs = np.asarray(ids).reshape(batch.shape[0], -1), np.asarray(probs).reshape(batch.shape[0], -1)
        if ids.shape != probs.shape:
            raise OcrError(f"recognition returned ids {list(ids.shape)} and probabilities {list(probs.shape)}")
        return ids, probs

    def _words(self, page: _Page, lines: list[recognition.ReadLine]) -> list[Word]:
        kept = [
            (crop, line)
            for crop, line in zip(page.crops, lines)
            if line.text.strip() and line.score >= self.config.min_line_score
        ]
        blocks = block_ids([crop.box for crop, _ in kept])
        words: list[Word] = []
        for number, ((crop, line), block) in enumerate(zip(kept, blocks)):
            width = crop.box.height if crop.vertical else crop.box.width
            for span in recognition.line_words(line, width, self.split_after):
                confidence = round(100.0 * span.confidence, 2)
                if confidence < self.min_confidence:
                    continue
                box = recognition.span_box(crop.box, span, width, crop.vertical)
                words.append(Word(span.text, _clamp(box, page.image.size), confidence, number, block))
        return words

    def close(self) -> None:
        if self.models.close is not None:
            self.models.close()

    def __enter__(self) -> PpocrEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def block_ids(boxes: Sequence[detection.TextBox]) -> list[int]:
    """Block number of each line: a line that starts under the line above it (left edges
    within a line height) with a gap under :data:`BLOCK_GAP` line heights continues that
    line's block (a paragraph, a multi-line label or answer); blocks are numbered in the
    order of their first line.  PP-OCR's lines already end at wide gaps, so lines side by
    side stay apart."""
    bounds = [b.bounds() for b in boxes]
    block = list(range(len(bounds)))
    for j, (x0, y0, _x1, y1) in enumerate(bounds):
        height = y1 - y0
        above = [
            i
            for i, (a0, b0, a1, b1) in enumerate(bounds[:j])
            if abs(a0 - x0) < min(height, b1 - b0) and 0 <= y0 - b1 < BLOCK_GAP * min(height, b1 - b0)
        ]
        if above:
            block[j] = block[max(above, key=lambda i: bounds[i][3])]
    numbers: dict[int, int] = {}
    return [numbers.setdefault(b, len(numbers)) for b in block]


def _clamp(box: tuple[int, int, int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    width, height = size
    x0, y0 = min(max(0, x0), width - 1), min(max(0, y0), height - 1)
    return x0, y0, min(max(x0 + 1, x1), width), min(max(y0 + 1, y1), height)


def onnx_models(
    detection_onnx: str | Path, recognition_onnx: str | Path, charset_file: str | Path, threads: int = 1
) -> PpocrModels:
    """The two ONNX graphs in onnxruntime on the CPU, one run at a time each (as one Triton
    model instance): the networks outside the server (the in-process pipeline, training, the
    OCR sweep)."""
    from layoutlmv3_triton.serving.onnx_classifier import make_session

    sessions = {}
    for role, path in (("det", detection_onnx), ("rec", recognition_onnx)):
        if not Path(path).is_file():
            raise OcrError(f"{path} is missing: build the repository with the ppocr engine", stage="ocr-setup")
        sessions[role] = (make_session(path, threads), threading.Lock())

    def run(role: str, array: np.ndarray) -> list[np.ndarray]:
        session, lock = sessions[role]
        with lock:
            return session.run(None, {session.get_inputs()[0].name: array})

    return PpocrModels(
        lambda page: run("det", page)[0], lambda lines: tuple(run("rec", lines)), read_charset(charset_file)
    )
