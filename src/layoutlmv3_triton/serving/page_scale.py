"""How much to enlarge a page before OCR, chosen from the page itself.

Why: Tesseract reads text best when letters are some 20-30 pixels tall.  Scanned forms
often come at ~100 dpi (FUNSD: ink lines about 10 px tall), where it misreads and misses
words; enlarging such a page helps a lot, while enlarging a page that is already large
only costs CPU.  So the scale comes from a measured text height, not a fixed factor.

The text height is measured without OCR, in a few milliseconds: the page is binarised
(Otsu), cut into narrow vertical strips, and in each strip every run of consecutive rows
that hold ink is one "ink line"; the median height of those runs (ignoring rules and
specks under :data:`MIN_RUN` px and tall graphics) is the page's text height.  It reads
about 0.7 of a word's box height on FUNSD (ascenders and descenders rarely share a strip).
When the page holds too little ink to measure, the image's DPI metadata decides instead.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

STRIP_PX = 32  # narrow enough that neighbouring text lines rarely join across a strip
MIN_RUN = 5  # rows: shorter ink runs are rules, underlines and specks, not text
MIN_RUNS = 20  # fewer measured runs than this: too little text to trust the estimate
DPI_FOR_TEXT_HEIGHT = 300 / 25  # fallback: ~25 px of ink-line height at 300 dpi (10-12 pt print)


def otsu_threshold(gray: np.ndarray) -> int:
    """Otsu's global threshold of an 8-bit grayscale array (ink is <= the threshold)."""
    hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    below = np.cumsum(hist)
    moment = np.cumsum(hist * np.arange(256))
    total, mean_total = below[-1], moment[-1]
    above = total - below
    valid = (below > 0) & (above > 0)
    between = np.zeros(256)
    between[valid] = (mean_total * below[valid] - moment[valid] * total) ** 2 / (below[valid] * above[valid])
    return int(between.argmax())


def ink_fraction(gray: np.ndarray) -> float:
    """Share of the page that global Otsu calls ink."""
    return float((gray <= otsu_threshold(gray)).mean()) if gray.size else 0.0


def ink_run_heights(gray: np.ndarray, strip: int = STRIP_PX) -> np.ndarray:
    """Heights of the runs of inked rows in each vertical strip of the page."""
    ink = gray <= otsu_threshold(gray)
    height, width = ink.shape
    strips = max(1, width // strip)
    # rows x strips: does the strip hold ink in that row?
    inked = (
        ink[:, : strips * strip].reshape(height, strips, strip).any(axis=2)
        if width >= strip
        else ink.any(axis=1, keepdims=True)
    )
    padded = np.zeros((height + 2, inked.shape[1]), dtype=np.int8)
    padded[1:-1] = inked
    edges = np.diff(padded, axis=0)
    starts = np.argwhere(edges.T == 1)  # (strip, row) in strip-major order: starts and ends pair up
    ends = np.argwhere(edges.T == -1)
    return (ends[:, 1] - starts[:, 1]).astype(np.int64)


def estimate_text_height(image: Image.Image | np.ndarray) -> float | None:
    """The median ink-line height in pixels, or None when the page has too little text."""
    gray = np.asarray(image.convert("L")) if isinstance(image, Image.Image) else np.asarray(image)
    if gray.ndim != 2 or gray.size == 0:
        return None
    runs = ink_run_heights(gray)
    runs = runs[(runs >= MIN_RUN) & (runs <= gray.shape[0] / 8)]
    if len(runs) < MIN_RUNS:
        return None
    return float(np.median(runs))


def choose_scale(image: Image.Image, text_height: float, max_scale: float, max_pixels: int) -> float:
    """The factor that brings the page's text to ``text_height`` px: never below 1 (a page that
    is already large is left alone), at most ``max_scale``, and at most ``max_pixels`` pixels.
    ``text_height`` <= 0 turns scaling off."""
    if text_height <= 0 or max_scale <= 1:
        return 1.0
    measured = estimate_text_height(image)
    if measured is None:
        dpi = image.info.get("dpi")
        if not dpi or not dpi[0]:
            return 1.0
        measured = float(dpi[0]) / DPI_FOR_TEXT_HEIGHT
    scale = min(max_scale, text_height / measured)
    pixels = image.width * image.height
    if pixels * scale * scale > max_pixels:
        scale = (max_pixels / pixels) ** 0.5
    return scale if scale > 1.05 else 1.0  # a 5% enlargement buys nothing but resampling blur


__all__ = ["choose_scale", "estimate_text_height", "ink_fraction", "ink_run_heights", "otsu_threshold"]
