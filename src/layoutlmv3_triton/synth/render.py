"""Render a synthetic FUNSD-style page from a seed: blocks -> layout -> pixels (+ noise).

Why these choices: dark text on white, body text of at least ~15 px on a 1000 px wide
page, normal word spacing and no overlaps, so that Tesseract at serving time finds the
same words that carry the ground-truth labels.  Noise, blur and a slight rotation are
optional and mild for the same reason.
"""
from __future__ import annotations

import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from layoutlmv3_triton.synth.content import make_blocks
from layoutlmv3_triton.synth.fonts import available_families
from layoutlmv3_triton.synth.layout import BoxOp, LineOp, Op, Style, TextOp, plan_block
from layoutlmv3_triton.synth.page import Box, SynthError, SynthPage

MIN_WIDTH, MAX_WIDTH = 400, 5000
MIN_BODY_PX = 15  # below this Tesseract starts to miss words


def make_style(r: random.Random, width: int, height: int) -> Style:
    """Draw the page-wide style; sizes scale with the page width (designed for 1000 px)."""
    scale = width / 1000
    families = available_families()
    family = r.choice(families)
    answer_family = family if r.random() < 0.7 else r.choice(families)

    def px(v: float) -> int:
        return max(MIN_BODY_PX, int(round(v * scale)))

    size = px(r.randint(16, 21))
    dark = r.randint(0, 40)
    ink = (dark, dark, dark)
    answer_ink = ink if r.random() < 0.75 else (r.randint(0, 30), r.randint(0, 40), r.randint(90, 140))
    return Style(
        width=width, height=height,
        left=px(r.randint(45, 120)), right=px(r.randint(45, 110)),
        top=px(r.randint(40, 100)), bottom=px(r.randint(40, 80)),
        family=family, answer_family=answer_family,
        size=size, title_size=px(r.randint(24, 36)), section_size=size + int(round(r.randint(2, 6) * scale)),
        spacing=r.uniform(1.45, 1.9),
        question_bold=r.random() < 0.35, section_bold=r.random() < 0.85, header_bold=r.random() < 0.9,
        ink=ink, answer_ink=answer_ink,
        tab=r.choice([None, None, 0.3, 0.35, 0.4]),
    )


def _commit(draw: ImageDraw.ImageDraw, ops: list[Op], y0: float, page: SynthPage) -> None:
    for op in ops:
        if isinstance(op, TextOp):
            xy = (op.x, y0 + op.baseline)
            draw.text(xy, op.text, font=op.font, fill=op.fill, anchor="ls")
            x0, y_0, x1, y1 = draw.textbbox(xy, op.text, font=op.font, anchor="ls")
            page.words.append(op.text)
            page.boxes.append((math.floor(x0), math.floor(y_0), math.ceil(x1), math.ceil(y1)))
            page.labels.append(op.label)
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
    return (max(0, math.floor(min(xs))), max(0, math.floor(min(ys))),
            min(w, math.ceil(max(xs))), min(h, math.ceil(max(ys))))


def degrade(page: SynthPage, r: random.Random, seed: int, max_angle: float = 1.0) -> None:
    """Scanner-like defects, mild enough for OCR: rotation, blur, grain, speckles, tint."""
    image = page.image
    if max_angle > 0 and r.random() < 0.7:
        angle = r.uniform(-max_angle, max_angle)
        center = (image.width / 2, image.height / 2)
        image = image.rotate(angle, resample=Image.Resampling.BICUBIC, center=center, fillcolor=(255, 255, 255))
        page.boxes = [rotate_box(b, angle, center, image.size) for b in page.boxes]
    if r.random() < 0.5:
        image = image.filter(ImageFilter.GaussianBlur(r.uniform(0.3, 0.7)))
    rng = np.random.default_rng(seed)
    arr = np.asarray(image, dtype=np.float32)
    arr = arr * (r.uniform(0.92, 1.0))  # paper tint
    arr += rng.normal(0.0, r.uniform(2.0, 6.0), size=arr.shape[:2])[..., None]
    n = r.randint(30, 250)
    ys, xs = rng.integers(0, arr.shape[0], n), rng.integers(0, arr.shape[1], n)
    # single-pixel dust, light enough that Tesseract's binarisation drops it (dark specks next to a
    # word stretch its OCR box)
    arr[ys, xs] = rng.uniform(150, 210, size=(n, 1))
    page.image = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def render_page(seed: int, *, noise: bool | float = False, width: int = 1000, height: int = 1300,
                page_id: str | None = None, max_angle: float = 1.0) -> SynthPage:
    """Render the page for ``seed``.  Same arguments, same pixels and labels.

    ``noise`` is a flag or the probability (0..1) that this page is degraded like a scan.
    The content RNG and the layout RNG are separate, so the words of a page do not depend
    on its size or noise settings.
    """
    if not 0.0 <= float(noise) <= 1.0:
        raise SynthError(f"noise must be a flag or a probability in 0..1, got {noise}")
    if not MIN_WIDTH <= width <= MAX_WIDTH or not 0.5 * width <= height <= 3 * width:
        raise SynthError(f"page size {width}x{height} out of range: width {MIN_WIDTH}..{MAX_WIDTH}, "
                         "height 0.5..3 times the width")
    blocks = make_blocks(random.Random(seed))
    r = random.Random(f"layout:{seed}")
    style = make_style(r, width, height)
    page = SynthPage(page_id if page_id is not None else str(seed), Image.new("RGB", (width, height), "white"))
    draw = ImageDraw.Draw(page.image)
    footer_ops, footer_h = plan_block(blocks[-1], style, r)
    footer_top = height - style.bottom - footer_h
    y = float(style.top)
    for i, block in enumerate(blocks[:-1]):
        ops, h = plan_block(block, style, r)
        if not ops:
            continue
        gap = 0.0 if i == 0 else style.size * (r.uniform(1.0, 1.8) if block.kind == "section" else r.uniform(0.3, 1.0))
        keep_with_next = style.line_h() * 2 if block.kind == "section" else 0  # no orphan section titles
        if y + gap + h + keep_with_next > footer_top - style.size * 1.5:
            break
        _commit(draw, ops, y + gap, page)
        y += gap + h
    _commit(draw, footer_ops, footer_top, page)
    if float(noise) > 0 and random.Random(f"noise:{seed}").random() < float(noise):
        degrade(page, r, seed, max_angle=max_angle)
        page.noisy = True
    return page
