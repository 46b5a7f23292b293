"""Lay blocks out on a page: measure first, then commit, so nothing ever overlaps.

Why plan-then-commit: a block is drawn only when all of it fits below the previous one,
so words never collide with other words or with rules and boxes (overlaps make Tesseract
merge or drop words, and the served model is scored on Tesseract's words).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from PIL import ImageFont

from layoutlmv3_triton.synth.content import Block
from layoutlmv3_triton.synth.fonts import FontFamily
from layoutlmv3_triton.synth.page import bio_labels

Ink = tuple[int, int, int]


@dataclass
class Style:
    """Page-wide typographic choices, drawn once per page from the layout RNG."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    family: FontFamily
    answer_family: FontFamily
    size: int
    title_size: int
    section_size: int
    spacing: float
    question_bold: bool
    section_bold: bool
    header_bold: bool
    ink: Ink
    answer_ink: Ink
    tab: float | None  # inline answers start at this fraction of the column, or right after the question

    def font(self, size: int | None = None, bold: bool = False, answer: bool = False) -> ImageFont.FreeTypeFont:
        family = self.answer_family if answer else self.family
        return family.get(int(size or self.size), bold)

    def line_h(self, size: int | None = None) -> int:
        return int(round((size or self.size) * self.spacing))


@dataclass
class TextOp:
    x: float
    baseline: float
    text: str
    font: ImageFont.FreeTypeFont
    label: str
    fill: Ink
    segment: int = 0  # index into the block's all_segments(): which entity the word belongs to
    underline: bool = False


@dataclass
class LineOp:
    xy: tuple[float, float, float, float]
    width: int
    tone: int = 80  # grey level; vertical rules are light so OCR does not read them as "|" or "1"


@dataclass
class BoxOp:
    """A check box, drawn light grey: dark boxes are read by Tesseract as "O", "0" or "@"."""

    xy: tuple[float, float, float, float]
    width: int
    checked: bool
    tone: int = 205


Op = TextOp | LineOp | BoxOp


def words_of(text: str, entity: str | None, segment: int = 0) -> list[tuple[str, str, int]]:
    words = text.split()
    return [(w, label, segment) for w, label in zip(words, bio_labels(len(words), entity))]


def first_baseline(font: ImageFont.FreeTypeFont, line_h: int) -> float:
    ascent, descent = font.getmetrics()
    return ascent + max(0, (line_h - ascent - descent) / 2)


def word_space(font: ImageFont.FreeTypeFont) -> float:
    """Gap between words: at least 0.35 em, so Tesseract never merges neighbours (condensed faces)."""
    return max(font.getlength(" "), font.size * 0.35)


def text_width(font: ImageFont.FreeTypeFont, text: str) -> float:
    """Width of ``text`` as :func:`flow` places it (word widths plus :func:`word_space`)."""
    words = text.split()
    return sum(font.getlength(w) for w in words) + word_space(font) * max(0, len(words) - 1)


def flow(
    words: list[tuple[str, str, int]],
    x0: float,
    x1: float,
    baseline: float,
    font,
    fill: Ink,
    line_h: int,
    max_lines: int,
    x_cont: float | None = None,
) -> tuple[list[TextOp], int, float]:
    """Place words left to right, wrapping at ``x1``; drop what does not fit in ``max_lines``.

    Returns the ops, the number of lines used (0 if nothing was placed) and the x after the
    last word.  Dropping the tail of an entity keeps its BIO tags valid.
    """
    space = word_space(font)
    ops: list[TextOp] = []
    x, line = x0, 0
    for word, label, segment in words:
        w = font.getlength(word)
        if x > (x0 if line == 0 else (x_cont if x_cont is not None else x0)) and x + w > x1:
            line += 1
            x = x_cont if x_cont is not None else x0
        if line >= max_lines or x + w > x1:
            break
        ops.append(TextOp(x, baseline + line * line_h, word, font, label, fill, segment))
        x += w + space
    return ops, (line + 1 if ops else 0), x


def plan_title(b: Block, s: Style, r: random.Random) -> tuple[list[Op], float]:
    text, entity = b.segments[0]
    size = s.title_size
    avail = s.width - s.left - s.right
    font = s.font(size, bold=s.header_bold)
    while text_width(font, text) > avail and size > s.size + 4:
        size -= 2
        font = s.font(size, bold=s.header_bold)
    lh = s.line_h(size)
    width = min(text_width(font, text), avail)
    x0 = s.left + (avail - width) / 2 if b.style.get("align") == "center" else s.left
    ops, lines, _ = flow(words_of(text, entity), x0, s.width - s.right, first_baseline(font, lh), font, s.ink, lh, 2)
    return ops, lines * lh + s.line_h() * 0.5


def plan_text(
    b: Block, s: Style, r: random.Random, *, size: int, bold: bool, max_lines: int, align: str = "left"
) -> tuple[list[Op], float]:
    text, entity = b.segments[0]
    font = s.font(size, bold=bold)
    lh = s.line_h(size)
    avail = s.width - s.left - s.right
    width = min(text_width(font, text), avail)
    x0 = {"left": s.left, "center": s.left + (avail - width) / 2, "right": s.left + avail - width}[align]
    ops, lines, _ = flow(
        words_of(text, entity), x0, s.width - s.right, first_baseline(font, lh), font, s.ink, lh, max_lines
    )
    return ops, lines * lh


def plan_kv(b: Block, s: Style, r: random.Random) -> tuple[list[Op], float]:
    mode, columns = b.style["mode"], b.style["columns"]
    gutter = s.size * 2
    col_w = (s.width - s.left - s.right - gutter * (columns - 1)) / columns
    qfont, afont = s.font(bold=s.question_bold), s.font(answer=True)
    lh = s.line_h()
    base = first_baseline(qfont, lh)
    ops: list[Op] = []
    height = 0.0
    for c in range(columns):
        (q, qe), (a, ae) = b.segments[2 * c], b.segments[2 * c + 1]
        x0, x1 = s.left + c * (col_w + gutter), s.left + c * (col_w + gutter) + col_w
        qops, qlines, qend = flow(words_of(q, qe, 2 * c), x0, x1, base, qfont, s.ink, lh, 2)
        if not qops:
            continue
        ops.extend(qops)
        last_q = base + (qlines - 1) * lh
        if mode == "stacked":
            ax = x0 + r.choice([0, 0, s.size])
            aops, alines, _ = flow(words_of(a, ae, 2 * c + 1), ax, x1, last_q + lh, afont, s.answer_ink, lh, 2)
            lines = qlines + max(alines, 1)
        else:
            gap = s.size * r.choice([0.6, 1.0, 1.5])
            ax = qend - word_space(qfont) + gap
            if s.tab is not None:
                ax = max(ax, x0 + s.tab * col_w)
            if x1 - ax < s.size * 4:  # no room on the question's line: answer goes below
                ax, last_q, qlines = x0, last_q + lh, qlines + 1
            aops, alines, _ = flow(
                words_of(a, ae, 2 * c + 1),
                ax,
                x1,
                last_q,
                afont,
                s.answer_ink,
                lh,
                b.style.get("answer_lines", 2),
                x_cont=ax,
            )
            lines = qlines + max(alines - 1, 0)
            if mode == "underline":
                descent = afont.getmetrics()[1]
                for i in range(max(alines, 1)):
                    y = last_q + i * lh + descent + 2
                    ops.append(LineOp((ax - 2, y, x1, y), 1))
        ops.extend(aops)
        height = max(height, lines * lh)
    return ops, height


def plan_checks(b: Block, s: Style, r: random.Random) -> tuple[list[Op], float]:
    qfont, ofont = s.font(bold=s.question_bold), s.font()
    lh = s.line_h()
    base = first_baseline(qfont, lh)
    (q, qe), options = b.segments[0], b.segments[1:]
    ops: list[Op] = []
    qops, _, x = flow(words_of(q, qe), s.left, s.width - s.right, base, qfont, s.ink, lh, 1)
    ops.extend(qops)
    line = 0
    cap = ofont.getbbox("H", anchor="ls")[1]  # negative: cap height above the baseline
    side = max(8, round(-cap * 0.9))
    x += s.size * 0.8
    for i, (text, entity) in enumerate(options):
        w = side + s.size * 0.5 + text_width(ofont, text)
        if x + w > s.width - s.right:
            line, x = line + 1, s.left + s.size * 2
        y = base + line * lh
        ops.append(BoxOp((x, y - side, x + side, y), 1 + (s.size > 18), i == b.style.get("checked")))
        oops, _, _ = flow(
            words_of(text, entity, i + 1), x + side + s.size * 0.5, s.width - s.right, y, ofont, s.ink, lh, 1
        )
        ops.extend(oops)
        x += w + s.size * 1.5
    return ops, (line + 1) * lh


def plan_table(b: Block, s: Style, r: random.Random) -> tuple[list[Op], float]:
    avail = s.width - s.left - s.right
    size = s.size
    header_bold = s.question_bold or r.random() < 0.5
    while True:
        hfont, cfont = s.font(size, bold=header_bold), s.font(size, answer=True)
        pad = max(8, size * 0.6)
        widths = [
            max(text_width(hfont if i == 0 else cfont, row[c][0]) for i, row in enumerate(b.rows)) + 2 * pad
            for c in range(len(b.rows[0]))
        ]
        if sum(widths) <= avail or size <= 15:
            break
        size -= 1
    if sum(widths) > avail:
        return [], 0.0  # a table that does not fit is left out rather than overlapped
    extra = (avail - sum(widths)) * r.choice([0.0, 0.5, 1.0]) / len(widths)
    widths = [w + extra for w in widths]
    lh = int(s.line_h(size) + pad)
    ops: list[Op] = []
    grid = b.style["grid"]
    xs = [s.left + sum(widths[:i]) for i in range(len(widths) + 1)]
    for i, row in enumerate(b.rows):
        font = hfont if i == 0 else cfont
        base = i * lh + first_baseline(font, lh)
        for c, (text, entity) in enumerate(row):
            ops.extend(
                flow(
                    words_of(text, entity, i * len(row) + c),
                    xs[c] + pad,
                    xs[c + 1] - pad,
                    base,
                    font,
                    s.ink if i == 0 else s.answer_ink,
                    lh,
                    1,
                )[0]
            )
        if grid != "none":
            ops.append(LineOp((xs[0], i * lh, xs[-1], i * lh), 1))
    height = len(b.rows) * lh
    if grid != "none":
        ops.append(LineOp((xs[0], height, xs[-1], height), 1))
    if grid == "full":
        ops.extend(LineOp((x, 0, x, height), 1, tone=205) for x in xs)
    return ops, height + 2


def plan_block(b: Block, s: Style, r: random.Random) -> tuple[list[Op], float]:
    if b.kind == "title":
        return plan_title(b, s, r)
    if b.kind == "section":  # a section title is bold or all capitals: never plain body text
        if not s.section_bold:
            b = Block(b.kind, [(b.segments[0][0].upper(), b.segments[0][1])], b.style)
        return plan_text(b, s, r, size=s.section_size, bold=s.section_bold, max_lines=1)
    small = max(11, int(s.size * 0.75)) if b.style.get("small") else s.size
    if b.kind == "stamp":
        return plan_text(b, s, r, size=int(s.size * 1.3), bold=True, max_lines=1, align=b.style.get("align", "right"))
    if b.kind in ("subtitle", "footer"):
        return plan_text(
            b,
            s,
            r,
            size=small,
            bold=False,
            max_lines=2,
            align=r.choice(["left", "center"]) if b.kind == "subtitle" else r.choice(["left", "right"]),
        )
    if b.kind == "paragraph":
        return plan_text(b, s, r, size=small, bold=False, max_lines=b.style.get("lines") or r.randint(1, 4))
    if b.kind == "kv":
        return plan_kv(b, s, r)
    if b.kind == "checks":
        return plan_checks(b, s, r)
    if b.kind == "table":
        return plan_table(b, s, r)
    raise ValueError(f"unknown block kind {b.kind!r}")
