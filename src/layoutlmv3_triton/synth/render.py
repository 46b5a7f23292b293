"""Render a synthetic FUNSD-style page from a seed: blocks -> layout -> pixels (+ noise).

Why these choices: dark text on white, body text of at least ~15 px on a 1000 px wide
page, normal word spacing and no overlaps, so that Tesseract at serving time finds the
same words that carry the ground-truth labels.  Noise, blur and a slight rotation are
optional and mild for the same reason.
"""

from __future__ import annotations

import io
import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from layoutlmv3_triton.synth.content import make_blocks
from layoutlmv3_triton.synth.fonts import TYPEWRITER, available_families
from layoutlmv3_triton.synth.layout import BoxOp, LineOp, Op, Style, TextOp, plan_block
from layoutlmv3_triton.synth.page import Box, SynthError, SynthPage

MIN_WIDTH, MAX_WIDTH = 400, 5000
MIN_BODY_PX = 15  # below this Tesseract starts to miss words


def make_style(r: random.Random, width: int, height: int) -> Style:
    """Draw the page-wide style; sizes scale with the page width (designed for 1000 px)."""
    scale = width / 1000
    families = available_families()
    family = r.choice(families)
    typed = [f for f in families if f.name in TYPEWRITER]
    # answers typed in on a typewriter over a printed form, or printed with the form
    answer_family = (
        r.choice(typed) if typed and r.random() < 0.4 else family if r.random() < 0.7 else r.choice(families)
    )

    def px(v: float) -> int:
        return max(MIN_BODY_PX, int(round(v * scale)))

    size = px(r.randint(16, 21))
    dark = r.randint(0, 40)
    ink = (dark, dark, dark)
    answer_ink = ink if r.random() < 0.75 else (r.randint(0, 30), r.randint(0, 40), r.randint(90, 140))
    return Style(
        width=width,
        height=height,
        left=px(r.randint(45, 120)),
        right=px(r.randint(45, 110)),
        top=px(r.randint(40, 100)),
        bottom=px(r.randint(40, 80)),
        family=family,
        answer_family=answer_family,
        size=size,
        title_size=px(r.randint(24, 36)),
        section_size=size + int(round(r.randint(2, 6) * scale)),
        spacing=r.uniform(1.45, 1.9),
        question_bold=r.random() < 0.35,
        section_bold=r.random() < 0.85,
        header_bold=r.random() < 0.9,
        ink=ink,
        answer_ink=answer_ink,
        tab=r.choice([None, None, 0.3, 0.35, 0.4]),
    )


def _commit(
    draw: ImageDraw.ImageDraw,
    ops: list[Op],
    y0: float,
    page: SynthPage,
    entities: dict[tuple[int, int], int],
    block: int = -1,
) -> None:
    """Draw ``ops`` at ``y0``; words get page-wide entity ids, keyed by (block, segment)."""
    for op in ops:
        if isinstance(op, TextOp):
            xy = (op.x, y0 + op.baseline)
            draw.text(xy, op.text, font=op.font, fill=op.fill, anchor="ls")
            x0, y_0, x1, y1 = draw.textbbox(xy, op.text, font=op.font, anchor="ls")
            page.words.append(op.text)
            page.boxes.append((math.floor(x0), math.floor(y_0), math.ceil(x1), math.ceil(y1)))
            page.labels.append(op.label)
            page.entity_ids.append(entities.setdefault((block, op.segment), len(entities)))
        elif isinstance(op, LineOp):
            x0, ya, x1, yb = op.xy
            draw.line((x0, y0 + ya, x1, y0 + yb), fill=(op.tone,) * 3, width=op.width)
        elif isinstance(op, BoxOp):
            x0, ya, x1, yb = op.xy
            tone = (op.tone,) * 3
            draw.rectangle((x0, y0 + ya, x1, y0 + yb), outline=tone, width=op.width)
            if op.checked:
                inset = max(2, (x1 - x0) * 0.2)
                draw.line((x0 + inset, y0 + ya + inset, x1 - inset, y0 + yb - inset), fill=tone, width=2)
                draw.line((x0 + inset, y0 + yb - inset, x1 - inset, y0 + ya + inset), fill=tone, width=2)


def rotate_box(box: Box, angle: float, center: tuple[float, float], size: tuple[int, int]) -> Box:
    """The axis-aligned box enclosing ``box`` after ``Image.rotate(angle)`` about ``center``.

    PIL rotates counter-clockwise on screen (y pointing down): a point ``(dx, dy)`` from the
    centre goes to ``(dx cos + dy sin, -dx sin + dy cos)``.
    """
    a = math.radians(angle)
    c, s = math.cos(a), math.sin(a)
    cx, cy = center
    xs, ys = [], []
    for x, y in ((box[0], box[1]), (box[2], box[1]), (box[0], box[3]), (box[2], box[3])):
        dx, dy = x - cx, y - cy
        xs.append(cx + dx * c + dy * s)
        ys.append(cy - dx * s + dy * c)
    w, h = size
    return (
        max(0, math.floor(min(xs))),
        max(0, math.floor(min(ys))),
        min(w, math.ceil(max(xs))),
        min(h, math.ceil(max(ys))),
    )


def _scale_page(page: SynthPage, image: Image.Image, factor: float) -> Image.Image:
    """Resample to ``factor`` of the size (a 100 dpi scan of a page drawn at ~130 dpi); boxes follow."""
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    sx, sy = size[0] / image.width, size[1] / image.height
    page.boxes = [
        (math.floor(x0 * sx), math.floor(y0 * sy), min(size[0], math.ceil(x1 * sx)), min(size[1], math.ceil(y1 * sy)))
        for x0, y0, x1, y1 in page.boxes
    ]
    return image.resize(size, Image.Resampling.BILINEAR)


def _smudges(arr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A few soft grey blobs (fingerprints, toner smears) that darken the paper, not the ink."""
    h, w = arr.shape
    for _ in range(int(rng.integers(1, 4))):
        ry, rx = int(rng.uniform(15, 60)), int(rng.uniform(20, 120))
        cy, cx = int(rng.uniform(0, h)), int(rng.uniform(0, w))
        y0, y1, x0, x1 = max(0, cy - 2 * ry), min(h, cy + 2 * ry), max(0, cx - 2 * rx), min(w, cx + 2 * rx)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        blob = np.exp(-(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)) * rng.uniform(30, 80)
        arr[y0:y1, x0:x1] = np.minimum(arr[y0:y1, x0:x1], 255 - blob)
    return arr


def degrade(page: SynthPage, r: random.Random, seed: int, max_angle: float = 1.0) -> None:
    """Make the page look like a 1980s-90s office scan: skew, ~100 dpi, faded or thick ink,
    blur, grain, speckles, smudges, binarisation and JPEG artefacts, each with its own odds.
    """
    image = page.image.convert("L")  # scans are grey; one channel is a third of the work
    if r.random() < 0.15:  # thick ink: a heavy typewriter ribbon or a photocopy of a photocopy
        image = image.filter(ImageFilter.MinFilter(3))
    if max_angle > 0 and r.random() < 0.7:
        angle = r.uniform(-max_angle, max_angle)
        center = (image.width / 2, image.height / 2)
        image = image.rotate(angle, resample=Image.Resampling.BILINEAR, center=center, fillcolor=255)
        page.boxes = [rotate_box(b, angle, center, image.size) for b in page.boxes]
    if r.random() < 0.7:
        image = _scale_page(page, image, r.uniform(0.62, 0.9))
    if r.random() < 0.5:
        image = image.filter(ImageFilter.GaussianBlur(r.uniform(0.3, 0.9)))
    rng = np.random.default_rng(seed)
    arr = np.asarray(image, dtype=np.float32)
    if r.random() < 0.25:  # faded ink
        arr = 255 - (255 - arr) * r.uniform(0.45, 0.75)
    arr = arr * (r.uniform(0.9, 1.0))  # paper tint
    arr += rng.standard_normal(size=arr.shape, dtype=np.float32) * r.uniform(2.0, 8.0)
    n = r.randint(30, 400)
    ys, xs = rng.integers(0, arr.shape[0], n), rng.integers(0, arr.shape[1], n)
    arr[ys, xs] = rng.uniform(120, 210, size=n)  # dust
    if r.random() < 0.2:
        arr = _smudges(arr, rng)
    if r.random() < 0.25:  # a binarised (fax or 1-bit) scan
        arr = np.where(arr < r.uniform(140, 190), 0.0, 255.0)
    image = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    if r.random() < 0.5:
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=r.randint(35, 85))
        image = Image.open(io.BytesIO(buf.getvalue()))
    page.image = image.convert("RGB")


def render_page(
    seed: int,
    *,
    noise: bool | float = False,
    width: int = 1000,
    height: int = 1300,
    page_id: str | None = None,
    max_angle: float = 1.0,
) -> SynthPage:
    """Render the page for ``seed``.  Same arguments, same pixels and labels.

    ``noise`` is a flag or the probability (0..1) that this page is degraded like a scan.
    The content RNG and the layout RNG are separate, so the words of a page do not depend
    on its size or noise settings.
    """
    if not 0.0 <= float(noise) <= 1.0:
        raise SynthError(f"noise must be a flag or a probability in 0..1, got {noise}")
    if not MIN_WIDTH <= width <= MAX_WIDTH or not 0.5 * width <= height <= 3 * width:
        raise SynthError(
            f"page size {width}x{height} out of range: width {MIN_WIDTH}..{MAX_WIDTH}, " "height 0.5..3 times the width"
        )
    blocks = make_blocks(random.Random(seed))
    r = random.Random(f"layout:{seed}")
    style = make_style(r, width, height)
    page = SynthPage(page_id if page_id is not None else str(seed), Image.new("RGB", (width, height), "white"))
    draw = ImageDraw.Draw(page.image)
    footer_ops, footer_h = plan_block(blocks[-1], style, r)
    footer_top = height - style.bottom - footer_h
    y = float(style.top)
    entities: dict[tuple[int, int], int] = {}
    for i, block in enumerate(blocks[:-1]):
        ops, h = plan_block(block, style, r)
        if not ops:
            continue
        gap = 0.0 if i == 0 else style.size * (r.uniform(1.0, 1.8) if block.kind == "section" else r.uniform(0.3, 1.0))
        keep_with_next = style.line_h() * 2 if block.kind == "section" else 0  # no orphan section titles
        if y + gap + h + keep_with_next > footer_top - style.size * 1.5:
            break
        _commit(draw, ops, y + gap, page, entities, i)
        y += gap + h
    _commit(draw, footer_ops, footer_top, page, entities, len(blocks) - 1)
    page.links = [
        (entities[(i, q)], entities[(i, a)])
        for i, block in enumerate(blocks)
        for q, a in block.links
        if (i, q) in entities and (i, a) in entities
    ]
    if float(noise) > 0 and random.Random(f"noise:{seed}").random() < float(noise):
        degrade(page, r, seed, max_angle=max_angle)
        page.noisy = True
    return page
