"""Text detection: the page as DB's input, and DB's probability map as text-line boxes.

The post-processing is PaddleOCR's ``DBPostProcess`` (as rapidocr 3.10 runs it: threshold
0.3, 2x2 dilation, mean probability in the box >= 0.5, unclip ratio 1.6), written with
numpy alone: OpenCV's contours, ``minAreaRect`` and pyclipper's polygon offset are not in
the server image.  What differs, and why it is the same for text lines:

- regions are the 8-connected components of the thresholded map, found from its runs of
  text pixels (as ``findContours`` traces their outer borders; holes are not regions);
- a region's rectangle is the smaller of its upright bounding box and the box along its
  principal axis (a text line's minimum-area rectangle is one of the two);
- offsetting a rectangle by ``d`` with round joins, then taking the minimum-area rectangle
  again, as DB does, is the rectangle grown by ``d`` on every side;
- a box's score is the mean probability over the pixels whose centres lie inside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from layoutlmv3_triton.serving.page_scale import estimate_text_height
from layoutlmv3_triton.serving.ppocr.config import PpocrConfig

STRIDE = 32  # the detector's input sides are multiples of this
MAX_CANDIDATES = 1000  # regions looked at per page (DB's max_candidates)
MIN_SIDE = 3  # a region thinner than this (in map pixels) is noise (DB's min_size)
SORT_TOLERANCE = 10  # det-input pixels: boxes whose tops differ by less share a row (rapidocr's sort)


@dataclass(frozen=True)
class TextBox:
    """A detected text line: four corners in page pixels (top-left, top-right, bottom-right,
    bottom-left, clockwise) and DB's score; its size and bounds are worked out once."""

    corners: np.ndarray  # 4 x 2 float
    score: float
    width: float = field(init=False)  # the longer of the top and bottom edges
    height: float = field(init=False)  # the longer of the left and right edges
    upright: bool = field(init=False)  # axis-aligned: a crop is a plain cut-out of the page
    box: tuple[float, float, float, float] = field(init=False)  # upright bounds x0, y0, x1, y1

    def __post_init__(self):
        c = [(float(x), float(y)) for x, y in self.corners]
        (ax, ay), (bx, by), (cx, cy), (dx, dy) = c
        set_ = object.__setattr__  # frozen: the derived fields are set once, here
        set_(self, "width", max(math.hypot(bx - ax, by - ay), math.hypot(cx - dx, cy - dy)))
        set_(self, "height", max(math.hypot(dx - ax, dy - ay), math.hypot(cx - bx, cy - by)))
        set_(self, "upright", ay == by and ax == dx and bx == cx and dy == cy)
        set_(self, "box", (min(ax, bx, cx, dx), min(ay, by, cy, dy), max(ax, bx, cx, dx), max(ay, by, cy, dy)))

    def bounds(self) -> tuple[float, float, float, float]:
        return self.box


def detection_scale(image: Image.Image, config: PpocrConfig) -> float:
    """How much to scale the page for the detector: its ink lines to ``config.text_height``.

    Unlike Tesseract's enlargement this may also shrink a page with large text (a 300 dpi
    scan), down to ``min_scale``: detection cost grows with pixels, and DB finds lines of
    15 px as well as of 40.  A page with too little ink to measure is read as it is.
    """
    if config.text_height <= 0:
        scale = 1.0
    else:
        measured = estimate_text_height(image)
        scale = 1.0 if measured is None else min(config.max_scale, max(config.min_scale, config.text_height / measured))
    pixels = image.width * image.height * scale * scale
    if pixels > config.max_pixels:
        scale *= (config.max_pixels / pixels) ** 0.5
    return scale


def detector_input(image: Image.Image, scale: float) -> np.ndarray:
    """``[1, 3, H, W]`` float32: the page scaled (sides rounded to multiples of 32), BGR as
    PaddleOCR's models were trained (OpenCV), normalised to -1..1."""
    width = max(STRIDE, int(round(image.width * scale / STRIDE)) * STRIDE)
    height = max(STRIDE, int(round(image.height * scale / STRIDE)) * STRIDE)
    return normalised(image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR))[None]


def normalised(image: Image.Image, out: np.ndarray | None = None) -> np.ndarray:
    """An RGB image as the networks read it: ``[3, H, W]`` float32, BGR, -1..1 (into ``out``
    when given).  One pass per channel, no intermediate copies: this runs on every page and
    every line, on the host even when the networks run on a GPU."""
    pixels = np.asarray(image)
    if out is None:
        out = np.empty((3, pixels.shape[0], pixels.shape[1]), dtype=np.float32)
    for channel in range(3):
        np.multiply(pixels[:, :, 2 - channel], np.float32(2.0 / 255.0), out=out[channel], casting="unsafe")
    out -= np.float32(1.0)
    return out


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row, first column and end column (exclusive) of every horizontal run of True, row-major."""
    height, width = mask.shape
    padded = np.zeros((height, width + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1).ravel()
    where = np.flatnonzero(edges)  # one pass: starts (+1) and ends (-1) alternate along each row
    rising = edges[where] == 1
    rows, starts = np.divmod(where[rising], width + 1)
    ends = where[~rising] % (width + 1)
    return rows, starts, ends


def _component_of_runs(rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, width: int) -> np.ndarray:
    """8-connected component id (0..k-1) of each run: runs on neighbouring rows that touch,
    diagonally included, are joined (union-find by minimum label, with pointer jumping)."""
    n = len(rows)
    key = width + 2
    start_key = rows * key + starts
    end_key = rows * key + ends
    # the runs of the row above that touch run b: end >= b.start and start <= b.end
    first = np.searchsorted(end_key, (rows - 1) * key + starts, side="left")
    last = np.searchsorted(start_key, (rows - 1) * key + ends, side="right")
    counts = np.clip(last - first, 0, None)
    b = np.repeat(np.arange(n), counts)
    a = np.repeat(first, counts) + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    parent = np.arange(n)
    while len(a):
        low = np.minimum(parent[a], parent[b])
        np.minimum.at(parent, parent[a], low)
        np.minimum.at(parent, parent[b], low)
        while True:  # point every run at its root
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
        if np.array_equal(parent[a], parent[b]):
            break
    return np.unique(parent, return_inverse=True)[1]


def _rectangles(rows, starts, ends, labels, count):
    """Per component: centre, unit axis along its length, length and thickness (pixel centres,
    as ``minAreaRect`` measures), the smaller of the upright and the principal-axis box."""
    last = ends - 1  # the run's last pixel
    n_px = (ends - starts).astype(np.float64)
    sum_x = (starts + last) * n_px / 2
    sum_xx = (last * (last + 1) * (2 * last + 1) - (starts - 1) * starts * (2 * starts - 1)) / 6.0
    y = rows.astype(np.float64)
    total = np.bincount(labels, n_px, count)
    mx = np.bincount(labels, sum_x, count) / total
    my = np.bincount(labels, y * n_px, count) / total
    cxx = np.bincount(labels, sum_xx, count) / total - mx * mx
    cyy = np.bincount(labels, y * y * n_px, count) / total - my * my
    cxy = np.bincount(labels, y * sum_x, count) / total - mx * my
    angle = 0.5 * np.arctan2(2 * cxy, cxx - cyy)
    angle = np.where(angle > np.pi / 4, angle - np.pi / 2, np.where(angle < -np.pi / 4, angle + np.pi / 2, angle))
    cos, sin = np.cos(angle), np.sin(angle)

    def extent(u_start, u_last):
        low = np.full(count, np.inf)
        high = np.full(count, -np.inf)
        np.minimum.at(low, labels, np.minimum(u_start, u_last))
        np.maximum.at(high, labels, np.maximum(u_start, u_last))
        return low, high

    x0, x1 = extent(starts.astype(np.float64), last.astype(np.float64))
    y0, y1 = extent(y, y)
    c, s = cos[labels], sin[labels]
    u0, u1 = extent(starts * c + y * s, last * c + y * s)
    v0, v1 = extent(-starts * s + y * c, -last * s + y * c)
    upright = (x1 - x0) * (y1 - y0) <= (u1 - u0) * (v1 - v0) * 1.02  # prefer upright on a near tie
    cos, sin = np.where(upright, 1.0, cos), np.where(upright, 0.0, sin)
    length = np.where(upright, x1 - x0, u1 - u0)
    thickness = np.where(upright, y1 - y0, v1 - v0)
    mid_u, mid_v = (u0 + u1) / 2, (v0 + v1) / 2
    cx = np.where(upright, (x0 + x1) / 2, mid_u * cos - mid_v * sin)
    cy = np.where(upright, (y0 + y1) / 2, mid_u * sin + mid_v * cos)
    return cx, cy, cos, sin, length, thickness


def _mean_in_boxes(prob: np.ndarray, x0, y0, x1, y1, which: np.ndarray) -> np.ndarray:
    """Mean of ``prob`` over each upright box (inclusive pixel bounds) among ``which``: text
    covers a small part of a page, so slicing each box beats a summed-area table of the map."""
    out = np.zeros(len(x0))
    for i in np.nonzero(which)[0]:
        out[i] = prob[y0[i] : y1[i] + 1, x0[i] : x1[i] + 1].mean()
    return out


def _mean_in_rectangle(prob: np.ndarray, corners: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """Mean of ``prob`` over the pixels whose centres lie in the (tilted) rectangle ``corners``."""
    ys, xs = np.mgrid[low[1] : high[1] + 1, low[0] : high[0] + 1]
    origin, along, down = corners[0], corners[1] - corners[0], corners[3] - corners[0]
    dx, dy = xs - origin[0], ys - origin[1]
    u = (dx * along[0] + dy * along[1]) / max(float(along @ along), 1e-9)
    v = (dx * down[0] + dy * down[1]) / max(float(down @ down), 1e-9)
    inside = (u >= -1e-6) & (u <= 1 + 1e-6) & (v >= -1e-6) & (v <= 1 + 1e-6)
    region = prob[low[1] : high[1] + 1, low[0] : high[0] + 1]
    return float(region[inside].mean()) if inside.any() else 0.0


def _corners(cx, cy, cos, sin, length, thickness) -> np.ndarray:
    """``[n, 4, 2]``: top-left, top-right, bottom-right, bottom-left."""
    ux, uy = cos * length / 2, sin * length / 2
    vx, vy = -sin * thickness / 2, cos * thickness / 2
    return np.stack(
        [
            np.stack([cx - ux - vx, cy - uy - vy], -1),
            np.stack([cx + ux - vx, cy + uy - vy], -1),
            np.stack([cx + ux + vx, cy + uy + vy], -1),
            np.stack([cx - ux + vx, cy - uy + vy], -1),
        ],
        1,
    )


def boxes_from_map(prob: np.ndarray, page_size: tuple[int, int], config: PpocrConfig = PpocrConfig()) -> list[TextBox]:
    """DB's text lines on a ``[H, W]`` probability map, in the pixels of a page of ``page_size``
    (width, height), in reading order (:func:`sort_boxes`)."""
    prob = np.asarray(prob, dtype=np.float32).reshape(prob.shape[-2:])
    height, width = prob.shape
    mask = prob > config.det_threshold
    # DB's 2x2 dilation (OpenCV anchors it at its centre: each pixel takes its left and upper neighbours)
    mask[1:, :] |= mask[:-1, :].copy()
    mask[:, 1:] |= mask[:, :-1].copy()
    rows, starts, ends = _runs(mask)
    if not len(rows):
        return []
    labels = _component_of_runs(rows, starts, ends, width)
    count = int(labels.max()) + 1
    cx, cy, cos, sin, length, thickness = _rectangles(rows, starts, ends, labels, count)
    keep = np.arange(count) < MAX_CANDIDATES
    keep &= np.minimum(length, thickness) >= MIN_SIDE
    corners = _corners(cx, cy, cos, sin, length, thickness)
    low = np.clip(np.floor(corners.min(1)).astype(int), 0, [width - 1, height - 1])
    high = np.clip(np.ceil(corners.max(1)).astype(int), 0, [width - 1, height - 1])
    score = _mean_in_boxes(prob, low[:, 0], low[:, 1], high[:, 0], high[:, 1], keep & (sin == 0))
    for i in np.nonzero(keep & (sin != 0))[0]:  # a tilted box: the mean inside it, not its upright bounds
        score[i] = _mean_in_rectangle(prob, corners[i], low[i], high[i])
    keep &= score >= config.box_threshold
    grow = length * thickness * config.unclip_ratio / np.maximum(2 * (length + thickness), 1e-6)
    length, thickness = length + 2 * grow, thickness + 2 * grow
    keep &= np.minimum(length, thickness) >= MIN_SIDE + 2
    corners = _corners(cx, cy, cos, sin, length, thickness)[keep]
    page_w, page_h = page_size
    corners[..., 0] = np.clip(np.round(corners[..., 0] * page_w / width), 0, page_w - 1)
    corners[..., 1] = np.clip(np.round(corners[..., 1] * page_h / height), 0, page_h - 1)
    boxes = []
    for quad, s in zip(corners, score[keep]):
        box = TextBox(quad, float(s))
        if box.width > 3 and box.height > 3:
            boxes.append(box)
    return sort_boxes(boxes, SORT_TOLERANCE * page_h / height)


def sort_boxes(boxes: list[TextBox], tolerance: float) -> list[TextBox]:
    """Reading order as rapidocr sorts: by top edge; boxes whose tops are within ``tolerance``
    of the previous one's stay on its row, and a row reads left to right."""
    if not boxes:
        return boxes
    tops = np.array([b.corners[0, 1] for b in boxes])
    order = np.argsort(tops, kind="stable")
    row = np.concatenate([[0], np.cumsum(np.diff(tops[order]) >= tolerance)])
    lefts = np.array([boxes[i].corners[0, 0] for i in order])
    return [boxes[order[i]] for i in np.lexsort((lefts, row))]


__all__ = ["TextBox", "boxes_from_map", "detection_scale", "detector_input", "sort_boxes"]
