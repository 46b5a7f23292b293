"""Draw a result onto its page: entity boxes coloured by label, their text, an arrow from
each question to its answer (the page's ``pairs``), and a legend.

The drawn image always has the page's ``width`` x ``height`` from the result, so the
pixel boxes land where the server found the entities; the legend sits inside it.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import io
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps, ImageSequence

from layoutlmv3_triton import contract

# Tableau 10: distinct on white and on scanned paper.
PALETTE = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)


def label_name(tag: str) -> str:
    """``B-QUESTION`` -> ``QUESTION``: entities carry the bare name, words carry BIO tags."""
    return contract.entity_type(tag)


def entity_labels(result: dict) -> list[str]:
    """Entity label names in the model's order, then any others the entities use."""
    names: list[str] = []
    tags = list(result.get("labels") or [])
    tags += [e.get("label", "") for p in result.get("pages", []) for e in p.get("entities", [])]
    for tag in tags:
        name = label_name(str(tag))
        if name and name != "O" and name not in names:
            names.append(name)
    return names


def _digest(name: str) -> int:
    return int.from_bytes(hashlib.sha1(name.encode()).digest()[:4], "big")


def label_colors(labels: Iterable[str]) -> dict[str, tuple[int, int, int]]:
    """A colour per label name that depends on the name, not on the run.

    Each name hashes to a palette slot; on a clash it takes the next free slot, and
    past the palette it gets a hashed hue.
    """
    colors: dict[str, tuple[int, int, int]] = {}
    used: set[int] = set()
    for name in labels:
        if name in colors:
            continue
        h = _digest(name)
        slot = next((s for s in ((h + k) % len(PALETTE) for k in range(len(PALETTE))) if s not in used), None)
        if slot is None:
            r, g, b = colorsys.hsv_to_rgb((h % 360) / 360, 0.75, 0.85)
            colors[name] = (int(r * 255), int(g * 255), int(b * 255))
        else:
            used.add(slot)
            colors[name] = PALETTE[slot]
    return colors


_FONT_NAMES = ("DejaVuSans.ttf", "Arial.ttf", "arial.ttf")  # wide glyph coverage where installed


@functools.lru_cache(maxsize=16)
def _font(size: int) -> Any:
    for name in _FONT_NAMES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        return ImageFont.load_default()


def _text_size(draw: ImageDraw.ImageDraw, text: str, font: Any) -> tuple[int, int]:
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    return x1 - x0, y1 - y0


def _ink(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    return (0, 0, 0) if 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 150 else (255, 255, 255)


def _overlap(a: tuple[int, ...], b: Iterable[float]) -> float:
    bx0, by0, bx1, by1 = b
    return max(0, min(a[2], bx1) - max(a[0], bx0)) * max(0, min(a[3], by1) - max(a[1], by0))


def _clip(text: str, limit: int = 40) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def annotate_page(
    image: Image.Image,
    page: dict,
    colors: dict[str, tuple[int, int, int]] | None = None,
    labels: list[str] | None = None,
) -> Image.Image:
    """A copy of ``image`` (resized to the page size) with the page's entities drawn on it."""
    size = (int(page["width"]), int(page["height"]))
    base = image.convert("RGB")
    if base.size != size:
        base = base.resize(size)
    entities = [e for e in page.get("entities", []) if len(e.get("box") or ()) == 4]
    if labels is None:
        labels = entity_labels({"pages": [page]})
    colors = colors or label_colors(labels)
    for e in entities:  # an entity label missing from ``labels`` still gets drawn
        if label_name(e["label"]) not in colors:
            colors = {**colors, **label_colors([*colors, label_name(e["label"])])}
            labels = [*labels, label_name(e["label"])]

    scale = max(size) / 1000
    line = max(2, round(2 * scale))
    font = _font(max(10, round(14 * scale)))

    fill = Image.new("RGBA", size, (0, 0, 0, 0))
    fdraw = ImageDraw.Draw(fill)
    for e in entities:
        fdraw.rectangle(e["box"], fill=(*colors[label_name(e["label"])], 40))
    out = Image.alpha_composite(base.convert("RGBA"), fill).convert("RGB")
    draw = ImageDraw.Draw(out)
    for e in entities:
        draw.rectangle(e["box"], outline=colors[label_name(e["label"])], width=line)
    _draw_pairs(draw, page, line)
    for e in entities:
        color = colors[label_name(e["label"])]
        tag = _clip(f"{label_name(e['label'])}: {e.get('text', '')}")
        tw, th = _text_size(draw, tag, font)
        x0, y0, _, y1 = e["box"]
        ty = y0 - th - 4 if y0 - th - 4 >= 0 else min(y1 + 1, size[1] - th - 4)
        tx = max(0, min(int(x0), size[0] - tw - 4))
        draw.rectangle((tx, ty, tx + tw + 4, ty + th + 4), fill=color)
        draw.text((tx + 2, ty + 2), tag, fill=_ink(color), font=font, anchor="lt")
    _draw_legend(out, labels, colors, entities, font)
    return out


PAIR_COLOR = (220, 20, 60)


def arrow_ends(question: list[float], answer: list[float]) -> tuple[tuple[float, float], tuple[float, float]]:
    """Where the question -> answer arrow starts and ends: side to side when the answer is to the
    right of the question, else from the question's bottom to the answer's top (or back up)."""
    qx0, qy0, qx1, qy1 = question
    ax0, ay0, ax1, ay1 = answer
    if ax0 >= qx1:
        return (qx1, (qy0 + qy1) / 2), (ax0, (ay0 + ay1) / 2)
    if ay0 >= qy1:
        return ((qx0 + qx1) / 2, qy1), ((ax0 + ax1) / 2, ay0)
    return ((qx0 + qx1) / 2, qy0), ((ax0 + ax1) / 2, ay1)


def _draw_pairs(draw: ImageDraw.ImageDraw, page: dict, width: int) -> None:
    entities = page.get("entities", [])
    head = 4 * width + 4
    for pair in page.get("pairs", []):
        try:
            question, answer = entities[pair["question"]]["box"], entities[pair["answer"]]["box"]
        except (IndexError, KeyError, TypeError):
            continue  # a malformed pair is not worth failing the drawing for
        (x0, y0), (x1, y1) = arrow_ends(question, answer)
        draw.line((x0, y0, x1, y1), fill=PAIR_COLOR, width=width)
        angle = math.atan2(y1 - y0, x1 - x0)
        wings = [(x1 - head * math.cos(angle + s), y1 - head * math.sin(angle + s)) for s in (0.45, -0.45)]
        draw.polygon([(x1, y1), *wings], fill=PAIR_COLOR)


def _draw_legend(out: Image.Image, labels: list[str], colors: dict, entities: list[dict], font: Any) -> None:
    if not labels:
        return
    draw = ImageDraw.Draw(out)
    counts = {name: 0 for name in labels}
    for e in entities:
        counts[label_name(e["label"])] = counts.get(label_name(e["label"]), 0) + 1
    rows = [f"{name} ({counts[name]})" for name in labels]
    th = max(_text_size(draw, r, font)[1] for r in rows)
    sw, pad = th + 2, max(4, th // 2)
    w = pad * 3 + sw + max(_text_size(draw, r, font)[0] for r in rows)
    h = pad + len(rows) * (sw + pad)
    W, H = out.size
    m = pad
    corners = [(W - w - m, m), (m, m), (W - w - m, H - h - m), (m, H - h - m)]
    # The corner that hides the fewest entities; ties go to the top right.
    x, y = min(corners, key=lambda c: sum(_overlap((c[0], c[1], c[0] + w, c[1] + h), e["box"]) for e in entities))
    x, y = max(0, x), max(0, y)
    panel = Image.new("RGBA", out.size, (0, 0, 0, 0))
    ImageDraw.Draw(panel).rectangle((x, y, x + w, y + h), fill=(255, 255, 255, 210), outline=(60, 60, 60, 255))
    out.paste(Image.alpha_composite(out.convert("RGBA"), panel).convert("RGB"))
    draw = ImageDraw.Draw(out)
    for i, (name, row) in enumerate(zip(labels, rows)):
        ry = y + pad + i * (sw + pad)
        draw.rectangle((x + pad, ry, x + pad + sw, ry + sw), fill=colors[name])
        draw.text((x + 2 * pad + sw, ry + sw // 2), row, fill=(0, 0, 0), font=font, anchor="lm")


def _on_white(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return image.convert("RGB")


def page_images(data: bytes, result: dict, pdf: bool) -> list[Image.Image]:
    """The page images the result describes, each at its page's width x height."""
    pages = result.get("pages", [])
    if pdf:
        try:
            import pypdfium2 as pdfium  # only PDF annotation needs it
        except ImportError:
            raise RuntimeError("drawing PDF pages needs pypdfium2 (pip install pypdfium2)") from None

        doc = pdfium.PdfDocument(data)
        try:
            images = []
            for p in pages:
                page = doc[int(p.get("page", len(images)))]
                scale = int(p["width"]) / page.get_width()
                images.append(page.render(scale=scale).to_pil().convert("RGB"))
                page.close()
        finally:
            doc.close()
    else:
        source = Image.open(io.BytesIO(data))
        frames = [f.copy() for f in ImageSequence.Iterator(source)] if len(pages) > 1 else [source]
        # Mirror the server's decoding: EXIF orientation applied, alpha flattened on white.
        images = [
            _on_white(ImageOps.exif_transpose(frames[min(int(p.get("page", i)), len(frames) - 1)]))
            for i, p in enumerate(pages)
        ]
    sizes = [(int(p["width"]), int(p["height"])) for p in pages]
    return [img if img.size == size else img.resize(size) for img, size in zip(images, sizes)]


def annotate_document(data: bytes, result: dict, pdf: bool) -> list[Image.Image]:
    labels = entity_labels(result)
    colors = label_colors(labels)
    return [
        annotate_page(img, page, colors, labels)
        for img, page in zip(page_images(data, result, pdf), result.get("pages", []))
    ]


def write_annotations(data: bytes, result: dict, out_dir: str | Path, stem: str, pdf: bool) -> list[Path]:
    """Write ``<stem>.png``, or ``<stem>-p<N>.png`` for each page of a PDF or multi-page result.

    N counts from 1 (the result's ``page`` is 0-based) as page numbers do in viewers.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = annotate_document(data, result, pdf)
    pages = result.get("pages", [])
    paged = pdf or len(images) > 1
    paths = []
    for i, (img, page) in enumerate(zip(images, pages)):
        path = out_dir / (f"{stem}-p{int(page.get('page', i)) + 1}.png" if paged else f"{stem}.png")
        img.save(path)
        paths.append(path)
    return paths
