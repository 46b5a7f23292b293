"""Words + pixel boxes + page image -> LayoutLMv3 model inputs.

The tokenizer and image processor come from a local ``from_pretrained`` folder with
``apply_ocr`` off (OCR is ours).  Every page is padded only up to its sequence
bucket, so the model step batches pages of similar length without padding all to 512.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from . import contract
from .errors import EncodingError

Box = Sequence[float]


@dataclass
class EncodedPage:
    input_ids: np.ndarray  # [seq] int64
    attention_mask: np.ndarray  # [seq] int64
    bbox: np.ndarray  # [seq, 4] int64, 0..1000
    pixel_values: np.ndarray  # [3, 224, 224] float32
    word_ids: np.ndarray  # [seq] int64, -1 for special and padding tokens
    n_words: int
    truncated_words: int  # words whose first sub-token fell past the sequence limit

    def model_inputs(self) -> dict[str, np.ndarray]:
        return {t.name: getattr(self, t.name) for t in contract.MODEL_INPUTS}


def normalize_boxes(boxes: Sequence[Box], width: int, height: int) -> np.ndarray:
    """Pixel boxes -> LayoutLMv3's 0..1000 grid, clamped and with x0<=x1, y0<=y1."""
    if len(boxes) == 0:
        return np.zeros((0, 4), dtype=np.int64)
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scale = np.array([width, height, width, height], dtype=np.float64)
    norm = np.clip(np.rint(b / scale * contract.BBOX_SCALE), 0, contract.BBOX_SCALE).astype(np.int64)
    x0, x1 = np.minimum(norm[:, 0], norm[:, 2]), np.maximum(norm[:, 0], norm[:, 2])
    y0, y1 = np.minimum(norm[:, 1], norm[:, 3]), np.maximum(norm[:, 1], norm[:, 3])
    return np.stack([x0, y0, x1, y1], axis=1)


def load_processor(processor_dir: str | Path):
    """Load a LayoutLMv3 processor from disk (never from a hub) with OCR disabled."""
    from transformers import LayoutLMv3Processor

    path = Path(processor_dir)
    if not (path / "tokenizer_config.json").is_file():
        raise FileNotFoundError(f"no LayoutLMv3 processor in {path}: expected tokenizer_config.json there")
    processor = LayoutLMv3Processor.from_pretrained(str(path), local_files_only=True)
    processor.image_processor.apply_ocr = False
    return processor


class PageEncoder:
    def __init__(self, processor_dir: str | Path, max_seq_len: int = contract.MAX_SEQ_LEN,
                 buckets: Sequence[int] = contract.SEQ_BUCKETS):
        self.processor = load_processor(processor_dir)
        self.tokenizer = self.processor.tokenizer
        self.max_seq_len = max_seq_len
        self.buckets = tuple(b for b in buckets if b < max_seq_len) + (max_seq_len,)

    def pixel_values(self, images: Sequence[Image.Image]) -> np.ndarray:
        out = self.processor.image_processor(images=list(images), return_tensors="np")
        return np.asarray(out["pixel_values"], dtype=np.float32)

    def encode_batch(self, images: Sequence[Image.Image], words: Sequence[Sequence[str]],
                     boxes: Sequence[Sequence[Box]]) -> list[EncodedPage]:
        """Encode several pages with one tokenizer call and one image-processor call."""
        norm_boxes = [normalize_boxes(b, im.width, im.height).tolist() for im, b in zip(images, boxes)]
        # The tokenizer cannot encode a page with no words; give it one placeholder and drop its tokens.
        safe_words = [list(w) if len(w) else [""] for w in words]
        safe_boxes = [b if len(b) else [[0, 0, 0, 0]] for b in norm_boxes]
        try:
            enc = self.tokenizer(safe_words, boxes=safe_boxes, truncation=True, max_length=self.max_seq_len,
                                 padding=False, return_attention_mask=True)
        except Exception as exc:  # tokenizers raise plain exceptions on malformed input
            raise EncodingError(f"tokenizer failed: {exc}") from exc
        pixels = self.pixel_values(images)
        return [self._page(enc, i, len(words[i]), pixels[i]) for i in range(len(images))]

    def encode(self, image: Image.Image, words: Sequence[str], boxes: Sequence[Box]) -> EncodedPage:
        return self.encode_batch([image], [words], [boxes])[0]

    def _page(self, enc, i: int, n_words: int, pixel_values: np.ndarray) -> EncodedPage:
        ids = list(enc["input_ids"][i])
        bbox = [list(b) for b in enc["bbox"][i]]
        word_ids = [-1 if w is None else w for w in enc.word_ids(i)]
        if n_words == 0:  # keep only the special tokens
            keep = [k for k, w in enumerate(word_ids) if w == -1]
            ids, bbox, word_ids = [ids[k] for k in keep], [bbox[k] for k in keep], [-1] * len(keep)
        seen = {w for w in word_ids if w >= 0}
        n = len(ids)
        length = contract.bucket_length(n, self.buckets)
        pad = length - n
        pad_id = self.tokenizer.pad_token_id
        return EncodedPage(
            input_ids=np.array(ids + [pad_id] * pad, dtype=np.int64),
            attention_mask=np.array([1] * n + [0] * pad, dtype=np.int64),
            bbox=np.array(bbox + [[0, 0, 0, 0]] * pad, dtype=np.int64).reshape(length, 4),
            pixel_values=pixel_values,
            word_ids=np.array(word_ids + [-1] * pad, dtype=np.int64),
            n_words=n_words,
            truncated_words=n_words - len(seen),
        )
