"""What a synthetic page says: a list of blocks drawn from a seeded RNG, before layout.

Why separate content from drawing: the tokenizer of a from-scratch model is trained on
page texts, and :func:`page_texts` gets them without rendering a pixel.  The renderer
consumes the same blocks, so the texts are exactly those of the rendered pages.

Each block holds *segments*: ``(text, entity)`` where ``entity`` is ``HEADER``,
``QUESTION``, ``ANSWER`` or ``None`` (label ``O``).  A segment becomes one entity: its
first word is ``B-X`` and the rest ``I-X``.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from layoutlmv3_triton.synth import vocab

HEADER, QUESTION, ANSWER = "HEADER", "QUESTION", "ANSWER"
Segment = tuple[str, "str | None"]


@dataclass
class Block:
    """One vertical unit of a page.  ``kind`` selects the layout routine in render.py."""

    kind: str  # title | subtitle | section | kv | checks | table | paragraph | footer
    segments: list[Segment] = field(default_factory=list)
    style: dict = field(default_factory=dict)
    rows: list[list[Segment]] = field(default_factory=list)  # tables: header row first

    def texts(self) -> list[str]:
        out = [t for t, _ in self.segments]
        for row in self.rows:
            out.extend(t for t, _ in row)
        return out


def page_seed(seed: int, index: int) -> int:
    """A stable 63-bit seed for page ``index`` of a run seeded by ``seed``.

    Hashing (not ``seed + index``) keeps runs with nearby seeds from sharing pages, so a
    validation set made with another seed never overlaps the training set.
    """
    digest = hashlib.sha256(f"layoutlmv3-synth:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _question(r: random.Random, text: str, colon: bool) -> str:
    return f"{text}:" if colon else text


def kv_block(r: random.Random, columns: int) -> Block:
    """Question/answer pairs on one row: side by side, stacked, or over an underline."""
    mode = r.choices(["inline", "stacked", "underline"], weights=[6, 2, 2])[0]
    segments: list[Segment] = []
    for q, gen in r.sample(vocab.QUESTIONS, columns):
        # questions end with a colon, as on most printed forms; only some underlined fields omit it
        colon = mode != "underline" or r.random() < 0.9
        segments.append((_question(r, q, colon), QUESTION))
        # a question may be left unanswered (a blank field), as on real forms
        blank = mode == "underline" and r.random() < 0.15
        segments.append(("" if blank else gen(r), ANSWER))
    return Block("kv", segments, {"mode": mode, "columns": columns})


def checks_block(r: random.Random) -> Block:
    q, options = r.choice(vocab.CHECK_QUESTIONS)
    segments: list[Segment] = [(f"{q}:", QUESTION)] + [(o, ANSWER) for o in options]
    return Block("checks", segments, {"checked": r.randrange(len(options))})


def table_block(r: random.Random) -> Block:
    columns = list(r.choice(vocab.TABLES))
    if len(columns) > 3 and r.random() < 0.3:
        columns = columns[:3]
    rows = [[(name, QUESTION) for name, _ in columns]]
    for _ in range(r.randint(2, 5)):
        rows.append([(gen(r), ANSWER) for _, gen in columns])
    return Block("table", rows=rows, style={"grid": r.choice(["full", "rows", "rows", "none", "none"])})


def paragraph_block(r: random.Random) -> Block:
    text = " ".join(vocab.sentence(r) for _ in range(r.randint(1, 3)))
    return Block("paragraph", [(text, None)])


def make_blocks(r: random.Random) -> list[Block]:
    """A page plan: title, optional subtitle, then sections of mixed blocks, then a footer.

    More blocks are planned than a page can hold; the renderer stops when the page is full.
    """
    blocks = [Block("title", [(vocab.title(r), HEADER)], {"align": r.choice(["left", "center", "center"])})]
    if r.random() < 0.6:
        sub = vocab.company(r) if r.random() < 0.5 else f"{vocab.address(r)}, {vocab.city(r)}"
        blocks.append(Block("subtitle", [(sub, None)]))
    if r.random() < 0.4:
        blocks.append(paragraph_block(r))
    for _ in range(r.randint(3, 5)):
        if r.random() < 0.75:
            blocks.append(Block("section", [(vocab.section_title(r), HEADER)]))
        for _ in range(r.randint(2, 5)):
            kind = r.choices(["kv", "checks", "table", "paragraph"], weights=[10, 1.2, 1.2, 1.5])[0]
            if kind == "kv":
                blocks.append(kv_block(r, columns=r.choice([1, 1, 2])))
            elif kind == "checks":
                blocks.append(checks_block(r))
            elif kind == "table":
                blocks.append(table_block(r))
            else:
                blocks.append(paragraph_block(r))
    footer = r.choice([f"Page {r.randint(1, 3)} of {r.randint(3, 5)}", f"Form {vocab.code(r)} Rev. {vocab.date(r)}",
                       vocab.sentence(r, 4, 8)])
    blocks.append(Block("footer", [(footer, None)]))
    return blocks


def page_texts(seed: int) -> str:
    """The text of the page seeded by ``seed`` (as planned; a full page may drop the tail)."""
    blocks = make_blocks(random.Random(seed))
    return " ".join(t for b in blocks for t in b.texts() if t)
