"""Text recognition: line crops as the recogniser's input, its output as words with boxes.

The recogniser reads a line 48 px tall and gives, per column of 8 input pixels, the most
likely character (or CTC's blank) and its probability; ``build-repo`` adds that argmax
to the graph (export/ppocr.py), so only two small arrays leave the model.  Decoding is
PaddleOCR's CTC rule (repeats merged, blanks dropped); words and their boxes come from the
columns where each character was read (PaddleOCR's ``return_word_box``, as rapidocr 3.10
computes it): a word ends at a space or at a gap of more than 5 columns, and each character
is a cell of the line's mean character width centred on its column.  A box from the
character positions follows the print; spreading a line's box over its characters by
their count does not (docs/ocr.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from layoutlmv3_triton.serving.ppocr.detection import TextBox, normalised
from layoutlmv3_triton.serving.word_split import split_text

HEIGHT = 48  # the recogniser's input height
COLUMN = 8  # input pixels per output column
WORD_GAP = 5  # columns: a larger gap between two characters ends a word (rapidocr's rule)
VERTICAL = 1.5  # a crop this many times taller than wide is a vertical line: turned to read it


@dataclass
class LineCrop:
    """One detected line, cut out and scaled to the recogniser's height."""

    image: Image.Image  # RGB, 48 px tall, ``width`` wide
    box: TextBox
    width: int  # pixels of the scaled crop before padding
    vertical: bool = False


@dataclass
class ReadLine:
    """What the recogniser read on one line: characters with their columns and probabilities."""

    text: str = ""
    columns: list[int] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)
    columns_read: float = 0.0  # output columns that cover the crop (the rest is padding)

    @property
    def score(self) -> float:
        return float(np.mean(self.probabilities)) if self.probabilities else 0.0


def crop_line(page: Image.Image, box: TextBox, max_width: int, width_scale: float = 1.0) -> LineCrop:
    """The line under ``box``, straightened and scaled to 48 px tall (at most ``max_width`` wide,
    and ``width_scale`` times as wide as its shape would make it)."""
    crop_w, crop_h = max(1, int(box.width)), max(1, int(box.height))
    if box.upright:
        x0, y0, x1, y1 = box.bounds()
        region = page.crop((int(x0), int(y0), int(x0) + crop_w, int(y0) + crop_h))
    else:
        (ax, ay), (bx, by), (cx, cy), (dx, dy) = box.corners
        # Pillow's QUAD takes upper-left, lower-left, lower-right, upper-right
        region = page.transform(
            (crop_w, crop_h), Image.Transform.QUAD, (ax, ay, dx, dy, cx, cy, bx, by), Image.Resampling.BICUBIC
        )
    vertical = crop_h >= VERTICAL * crop_w
    if vertical:
        region = region.transpose(Image.Transpose.ROTATE_90)
        crop_w, crop_h = crop_h, crop_w
    width = min(max_width, max(1, math.ceil(HEIGHT * width_scale * crop_w / crop_h)))
    return LineCrop(region.convert("RGB").resize((width, HEIGHT), Image.Resampling.BILINEAR), box, width, vertical)


def padded_width(width: int, min_width: int) -> int:
    """The width a crop is padded to: the next step of a coarse grid (32 px steps up to 256,
    then 64 up to 512, 128 up to 1024, 256 beyond), at least ``min_width`` (PaddleOCR pads to
    320).  A crop's padding then depends on the crop alone, so it reads the same in any batch
    (the recogniser's attention sees the padding), and few shapes reach the models."""
    width = max(width, min_width, 1)
    step = 32 if width <= 256 else 64 if width <= 512 else 128 if width <= 1024 else 256
    return -(-width // step) * step


def batches(crops: list[LineCrop], size: int, min_width: int) -> list[tuple[list[int], np.ndarray]]:
    """Crops grouped by padded width, ``size`` at most per batch: each batch's crop indices
    and its ``[n, 3, 48, width]`` input, zero-padded on the right."""
    groups: dict[int, list[int]] = {}
    for i in sorted(range(len(crops)), key=lambda i: crops[i].width):
        groups.setdefault(padded_width(crops[i].width, min_width), []).append(i)
    out = []
    for width, members in groups.items():
        for first in range(0, len(members), max(1, size)):
            chunk = members[first : first + size]
            array = np.zeros((len(chunk), 3, HEIGHT, width), dtype=np.float32)  # padding reads as 0
            for row, i in enumerate(chunk):
                normalised(crops[i].image, array[row, :, :, : crops[i].width])
            out.append((chunk, array))
    return out


def ctc_decode(ids: np.ndarray, probabilities: np.ndarray, charset: list[str], columns_read: float) -> ReadLine:
    """One line's CTC output: repeats merged, blanks (id 0) dropped; each character keeps its
    column and probability.  ``charset[i]`` is the character of id ``i`` (``charset[0]`` blank)."""
    ids = np.asarray(ids).reshape(-1)
    keep = np.ones(len(ids), dtype=bool)
    keep[1:] = ids[1:] != ids[:-1]
    keep &= ids != 0
    keep &= ids < len(charset)
    columns = np.nonzero(keep)[0]
    text = "".join(charset[i] for i in ids[columns])
    probs = np.asarray(probabilities).reshape(-1)[columns]
    return ReadLine(text, columns.tolist(), [float(p) for p in probs], columns_read)


@dataclass(frozen=True)
class WordSpan:
    """A word on a line crop: its text, its left and right edge in crop pixels, confidence 0..1."""

    text: str
    left: float
    right: float
    confidence: float


def line_words(line: ReadLine, crop_width: float, split_after: str = "") -> list[WordSpan]:
    """The words of a read line with their spans on the (unscaled) crop, ``crop_width`` wide.

    Words end at spaces and at gaps of more than :data:`WORD_GAP` columns; a word is then
    cut after ``split_after`` characters (word_split.py's rule).  Each character is a cell
    one mean character width wide around its column; neighbouring words that overlap share
    the overlap.
    """
    if not line.text or line.columns_read <= 0:
        return []
    column_px = crop_width / line.columns_read
    words: list[list[int]] = []  # character indices
    previous = None
    for i, char in enumerate(line.text):
        if char.isspace():
            previous = None
            continue
        if previous is None or line.columns[i] - line.columns[previous] > WORD_GAP:
            words.append([])
        words[-1].append(i)
        previous = i
    spreads = [(line.columns[w[-1]] - line.columns[w[0]]) * column_px / (len(w) - 1) for w in words if len(w) > 1]
    char_w = float(np.mean(spreads)) if spreads else crop_width / len(line.text)

    def cell(i: int) -> tuple[float, float]:
        centre = (line.columns[i] + 0.5) * column_px
        return max(centre - char_w / 2, 0.0), min(centre + char_w / 2, crop_width)

    spans: list[WordSpan] = []
    for word in words:
        text = "".join(line.text[i] for i in word)
        start = 0
        for piece in split_text(text, split_after):
            members = word[start : start + len(piece)]
            start += len(piece)
            cells = [cell(i) for i in members]
            probs = [line.probabilities[i] for i in members]
            spans.append(WordSpan(piece, min(c[0] for c in cells), max(c[1] for c in cells), float(np.mean(probs))))
    for i in range(len(spans) - 1):  # overlapping neighbours meet halfway
        left, right = spans[i], spans[i + 1]
        if left.right > right.left:
            middle = (left.right + right.left) / 2
            spans[i] = WordSpan(left.text, left.left, middle, left.confidence)
            spans[i + 1] = WordSpan(right.text, middle, right.right, right.confidence)
    return spans


def span_box(box: TextBox, span: WordSpan, crop_width: float, vertical: bool = False) -> tuple[int, int, int, int]:
    """A word's span on its line crop as an upright box in page pixels."""
    x0, y0, x1, y1 = box.bounds()
    if vertical:  # the words of a turned line run along the page's height; keep the line's width
        top, bottom = y1 - (y1 - y0) * span.right / crop_width, y1 - (y1 - y0) * span.left / crop_width
        return math.floor(x0), math.floor(top), math.ceil(x1), math.ceil(bottom)
    if box.upright:
        return math.floor(x0 + span.left), math.floor(y0), math.ceil(x0 + span.right), math.ceil(y1)
    (ax, ay), (bx, by), _, (dx, dy) = box.corners.tolist()
    ux, uy = (bx - ax) / max(crop_width, 1e-6), (by - ay) / max(crop_width, 1e-6)  # along the line, per crop px
    vx, vy = dx - ax, dy - ay  # down the line
    xs = [ax + ux * t + vx * d for t in (span.left, span.right) for d in (0, 1)]
    ys = [ay + uy * t + vy * d for t in (span.left, span.right) for d in (0, 1)]
    return math.floor(min(xs)), math.floor(min(ys)), math.ceil(max(xs)), math.ceil(max(ys))


__all__ = ["HEIGHT", "LineCrop", "ReadLine", "WordSpan", "batches", "crop_line", "ctc_decode", "line_words", "span_box"]
