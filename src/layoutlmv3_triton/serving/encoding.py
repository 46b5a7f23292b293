"""Words + pixel boxes + page image -> LayoutLMv3 model inputs.

The tokenizer and image processor come from a local ``from_pretrained`` folder with
``apply_ocr`` off (OCR is ours).  Every page is padded only up to its sequence
bucket, so the model step batches pages of similar length without padding all to 512.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from layoutlmv3_triton import contract
from layoutlmv3_triton.errors import EncodingError
from layoutlmv3_triton.serving.windows import DEFAULT_STRIDE, Window, plan_windows

DEFAULT_MAX_WINDOWS_PER_PAGE = 16  # per page: with the default stride, about 7000 tokens

Box = Sequence[float]


@dataclass
class EncodedWindow:
    input_ids: np.ndarray  # [seq] int64
    attention_mask: np.ndarray  # [seq] int64
    bbox: np.ndarray  # [seq, 4] int64, 0..1000
    pixel_values: np.ndarray  # [3, 224, 224] float32
    word_ids: np.ndarray  # [seq] int64, -1 for special and padding tokens
    n_words: int
    truncated_words: int  # words of the page whose first sub-token is not in this sequence

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
    def __init__(
        self,
        processor_dir: str | Path,
        max_seq_len: int = contract.MAX_SEQ_LEN,
        buckets: Sequence[int] = contract.SEQ_BUCKETS,
        stride: int = DEFAULT_STRIDE,
        max_windows_per_page: int = DEFAULT_MAX_WINDOWS_PER_PAGE,
    ):
        self.processor = load_processor(processor_dir)
        self.tokenizer = self.processor.tokenizer
        self.max_seq_len = max_seq_len
        self.buckets = tuple(b for b in buckets if b < max_seq_len) + (max_seq_len,)
        self.stride = stride
        self.max_windows_per_page = max_windows_per_page
        # room for the words once <s> and </s> are in
        self.window_tokens = max_seq_len - self.tokenizer.num_special_tokens_to_add()

    def pixel_values(self, images: Sequence[Image.Image]) -> np.ndarray:
        out = self.processor.image_processor(images=list(images), return_tensors="np")
        return np.asarray(out["pixel_values"], dtype=np.float32)

    def _tokenize(self, words: list[list[str]], boxes: list[list], **kwargs):
        try:
            return self.tokenizer(words, boxes=boxes, padding=False, return_attention_mask=True, **kwargs)
        except Exception as exc:  # tokenizers raise plain exceptions on malformed input
            raise EncodingError(f"tokenizer failed: {exc}") from exc

    def encode_windows(
        self, images: Sequence[Image.Image], words: Sequence[Sequence[str]], boxes: Sequence[Sequence[Box]]
    ) -> list[list[EncodedWindow]]:
        """Each page as one or more windows of at most ``max_seq_len`` tokens.

        All pages go through one tokenizer call for the word lengths, one for the
        windows and one image-processor call.  Windows' ``word_ids`` index the page's words.
        """
        norm_boxes = [normalize_boxes(b, im.width, im.height).tolist() for im, b in zip(images, boxes)]
        words = [list(w) for w in words]
        with_words = [i for i, w in enumerate(words) if w]
        plans: dict[int, list[Window]] = {i: [Window(0, 0)] for i in range(len(words))}
        if with_words:
            counts = self._tokenize(
                [words[i] for i in with_words],
                [norm_boxes[i] for i in with_words],
                add_special_tokens=False,
                truncation=False,
            )
            for row, i in enumerate(with_words):
                per_word = np.bincount([w for w in counts.word_ids(row) if w is not None], minlength=len(words[i]))
                plans[i] = plan_windows(per_word.tolist(), self.window_tokens, self.stride, self.max_windows_per_page)
        flat = [(i, w) for i in range(len(words)) for w in plans[i]]
        # The tokenizer cannot encode a window with no words; give it one placeholder and drop its tokens.
        enc = self._tokenize(
            [words[i][w.start : w.end] or [""] for i, w in flat],
            [norm_boxes[i][w.start : w.end] or [[0, 0, 0, 0]] for i, w in flat],
            truncation=True,
            max_length=self.max_seq_len,
        )
        pixels = self.pixel_values(images)
        out: list[list[EncodedWindow]] = [[] for _ in words]
        for row, (i, window) in enumerate(flat):
            out[i].append(self._window(enc, row, window, len(words[i]), pixels[i]))
        return out

    def encode_batch(
        self, images: Sequence[Image.Image], words: Sequence[Sequence[str]], boxes: Sequence[Sequence[Box]]
    ) -> list[EncodedWindow]:
        """One sequence per page, truncated at ``max_seq_len`` (see :meth:`encode_windows`)."""
        saved = self.max_windows_per_page
        self.max_windows_per_page = 1
        try:
            return [windows[0] for windows in self.encode_windows(images, words, boxes)]
        finally:
            self.max_windows_per_page = saved

    def encode(self, image: Image.Image, words: Sequence[str], boxes: Sequence[Box]) -> EncodedWindow:
        return self.encode_batch([image], [words], [boxes])[0]

    def _window(self, enc, row: int, window: Window, n_words: int, pixel_values: np.ndarray) -> EncodedWindow:
        ids = list(enc["input_ids"][row])
        bbox = [list(b) for b in enc["bbox"][row]]
        word_ids = [-1 if w is None else w + window.start for w in enc.word_ids(row)]
        if window.end == window.start:  # no words: keep only the special tokens
            keep = [k for k, w in enumerate(word_ids) if w == -1]
            ids, bbox, word_ids = [ids[k] for k in keep], [bbox[k] for k in keep], [-1] * len(keep)
        seen = {w for w in word_ids if w >= 0}
        n = len(ids)
        length = contract.bucket_length(n, self.buckets)
        pad = length - n
        pad_id = self.tokenizer.pad_token_id
        return EncodedWindow(
            input_ids=np.array(ids + [pad_id] * pad, dtype=np.int64),
            attention_mask=np.array([1] * n + [0] * pad, dtype=np.int64),
            bbox=np.array(bbox + [[0, 0, 0, 0]] * pad, dtype=np.int64).reshape(length, 4),
            pixel_values=pixel_values,
            word_ids=np.array(word_ids + [-1] * pad, dtype=np.int64),
            n_words=n_words,
            truncated_words=n_words - len(seen),
        )


def stack_windows(windows: Sequence[EncodedWindow], dtypes: dict | None = None) -> dict[str, np.ndarray]:
    """Model inputs and word maps of several windows as one batch, padded to the longest."""
    length = max(window.input_ids.shape[0] for window in windows)
    outputs = {}
    for t in contract.MODEL_INPUTS + (contract.WORD_IDS,):
        arrays = [getattr(window, t.name) for window in windows]
        fill = -1 if t is contract.WORD_IDS else 0
        stacked = np.stack(arrays) if t is contract.PIXEL_VALUES else pad_stack(arrays, length, fill)
        outputs[t.name] = stacked.astype(dtypes[t.name], copy=False) if dtypes else stacked
    return outputs


def pad_stack(arrays: Sequence[np.ndarray], length: int, fill: int | float = 0) -> np.ndarray:
    """Stack arrays whose first axis is a sequence, padding that axis to ``length``."""
    out = np.full((len(arrays), length, *arrays[0].shape[1:]), fill, dtype=arrays[0].dtype)
    for i, a in enumerate(arrays):
        out[i, : a.shape[0]] = a
    return out
