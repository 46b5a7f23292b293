"""The OCR engine a repository reads pages with: Tesseract or PP-OCR (``ocr_engine``).

Both give the same thing downstream: :class:`~layoutlmv3_triton.serving.page.Word` lists in
reading order with pixel boxes, confidences 0..100, line and block ids, and words split after
``ocr_split_after``.  Tesseract runs in-process; PP-OCR's two networks run wherever its
``models`` say (BLS calls to Triton models in the server, onnxruntime elsewhere).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from PIL import Image

from layoutlmv3_triton.errors import OcrError
from layoutlmv3_triton.serving.ocr import OcrConfig, TesseractEngine
from layoutlmv3_triton.serving.page import Word
from layoutlmv3_triton.serving.ppocr.config import PpocrConfig
from layoutlmv3_triton.serving.ppocr.engine import PpocrEngine, PpocrModels

# What build-repo writes when not told (docs/ocr.md has the measurements): on a GPU host the
# networks run on the GPU and Tesseract would be the bound; on the CPU Tesseract is cheaper.
GPU_DEFAULT_ENGINE = "ppocr"
CPU_DEFAULT_ENGINE = "tesseract"


class OcrEngine(Protocol):
    def read(self, image: Image.Image) -> list[Word]: ...

    def read_pages(self, images: Sequence[Image.Image]) -> list[list[Word]]: ...

    def close(self) -> None: ...


def default_engine(gpu: bool) -> str:
    return GPU_DEFAULT_ENGINE if gpu else CPU_DEFAULT_ENGINE


def open_engine(
    ocr: OcrConfig, ppocr: PpocrConfig = PpocrConfig(), models: Callable[[], PpocrModels] | None = None
) -> OcrEngine:
    """The engine ``ocr.engine`` names; ``models`` makes PP-OCR's networks when that is ppocr."""
    if ocr.engine == "tesseract":
        return TesseractEngine(ocr)
    if models is None:
        raise OcrError("the ppocr engine needs its detection and recognition models", stage="ocr-setup")
    return PpocrEngine(models(), ppocr, ocr.split_after, ocr.min_confidence)
