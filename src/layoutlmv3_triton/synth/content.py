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

import layoutlmv3_triton.synth.vocab as vocab
from layoutlmv3_triton.synth.wordlists import FAX_WORDS, STAMPS

HEADER, QUESTION, ANSWER = "HEADER", "QUESTION", "ANSWER"
Segment = tuple[str, "str | None"]


@dataclass
class Block:
    """One vertical unit of a page.  ``kind`` selects the layout routine in render.py."""

    kind: str  # title | subtitle | section | kv | checks | table | paragraph | footer | stamp
    segments: list[Segment] = field(default_factory=list)
    style: dict = field(default_factory=dict)
    rows: list[list[Segment]] = field(default_factory=list)  # tables: header row first
    # question -> answer links as (question, answer) indices into segments(); for tables the
    # segments are the cells row by row
    links: list[tuple[int, int]] = field(default_factory=list)

    def all_segments(self) -> list[Segment]:
        return self.segments + [cell for row in self.rows for cell in row]

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


def kv_block(r: random.Random, columns: int, broad: bool = True) -> Block:
    """Question/answer pairs on one row: side by side, stacked, or over an underline.

    ``broad``: half the questions come from the domain and English vocabularies with any
    kind of answer, and colons, numbering and capitals vary as on real forms.
    """
    mode = r.choices(["inline", "stacked", "underline"], weights=[6, 2, 2])[0]
    segments: list[Segment] = []
    links: list[tuple[int, int]] = []
    pairs = r.sample(vocab.QUESTIONS, columns)
    if broad:
        pairs = [vocab.open_question(r) if r.random() < 0.5 else pair for pair in pairs]
    style: dict = {"mode": mode, "columns": columns}
    if broad and columns == 1 and mode != "stacked" and r.random() < 0.15:
        # a field answered with running text over several lines ("Suggestion:", "Comments:")
        pairs = [(pairs[0][0], lambda r: vocab.prose(r, 12, 50))]
        style["answer_lines"] = r.randint(2, 6)
    for q, gen in pairs:
        # questions end with a colon, as on most printed forms; some omit it
        colon = (
            r.random() < (0.9 if mode != "underline" else 0.8) if broad else (mode != "underline" or r.random() < 0.9)
        )
        if broad and not colon and r.random() < 0.3:
            q = f"{q}?"
        if broad and r.random() < 0.08:
            q = f"{r.randint(1, 20)}. {q}"
        segments.append((_question(r, q, colon), QUESTION))
        # a question may be left unanswered (a blank field), as on real forms
        blank = r.random() < (0.15 if mode == "underline" else 0.05 if broad else 0.0)
        answer = gen(r)
        if broad and r.random() < 0.1:
            answer = f"{answer} {vocab.any_answer(r)}"
        segments.append(("" if blank else answer, ANSWER))
        if not blank:
            links.append((len(segments) - 2, len(segments) - 1))
    return Block("kv", segments, style, links=links)


def checks_block(r: random.Random) -> Block:
    q, options = r.choice(vocab.CHECK_QUESTIONS)
    segments: list[Segment] = [(f"{q}:", QUESTION)] + [(o, ANSWER) for o in options]
    return Block(
        "checks", segments, {"checked": r.randrange(len(options))}, links=[(0, i) for i in range(1, len(segments))]
    )


def table_block(r: random.Random) -> Block:
    columns = list(r.choice(vocab.TABLES))
    if len(columns) > 3 and r.random() < 0.3:
        columns = columns[:3]
    rows = [[(name, QUESTION) for name, _ in columns]]
    for _ in range(r.randint(2, 5)):
        rows.append([(gen(r), ANSWER) for _, gen in columns])
    n = len(columns)
    links = [(c, i * n + c) for i in range(1, len(rows)) for c in range(n)]
    return Block("table", rows=rows, style={"grid": r.choice(["full", "rows", "rows", "none", "none"])}, links=links)


def paragraph_block(r: random.Random, broad: bool = True) -> Block:
    """Free text (instructions, a letter's body, small print): label O."""
    if broad and r.random() < 0.7:
        return Block("paragraph", [(vocab.prose(r), None)], {"lines": r.randint(1, 6), "small": r.random() < 0.3})
    text = " ".join(vocab.sentence(r) for _ in range(r.randint(1, 3)))
    return Block("paragraph", [(text, None)])


def top_matter(r: random.Random) -> list[Block]:
    """What sits above a real form's title: a fax header, a letterhead, a document number (all O)."""
    blocks = []
    if r.random() < 0.25:
        line = (
            f"{vocab.date(r)} {r.randint(0, 23):02d}:{r.randint(0, 59):02d} FROM {vocab.company(r).upper()} "
            f"TO {vocab.phone(r)} P.{r.randint(1, 9):02d}"
        )
        blocks.append(Block("subtitle", [(line, None)], {"small": True}))
    if r.random() < 0.35:
        lines = [vocab.company(r).upper() if r.random() < 0.5 else vocab.company(r), vocab.address(r), vocab.city(r)]
        blocks.append(Block("paragraph", [(" ".join(lines), None)], {"lines": 2, "small": True}))
    return blocks


def stamp_block(r: random.Random) -> Block:
    """A rubber stamp or a document number in the margin: O."""
    text = r.choice(STAMPS) + (f" {vocab.date(r)}" if r.random() < 0.5 else "")
    return Block("stamp", [(text, None)], {"align": r.choice(["left", "center", "right"])})


def make_blocks(r: random.Random, broad: bool = True) -> list[Block]:
    """A page plan: title, optional subtitle, then sections of mixed blocks, then a footer.

    More blocks are planned than a page can hold; the renderer stops when the page is full.
    """
    blocks = top_matter(r) if broad else []
    title = (
        vocab.title(r)
        if not broad or r.random() < 0.6
        else r.choice([f"{r.choice(FAX_WORDS)} {r.choice(FAX_WORDS)}", vocab.word_phrase(r, 1, 4).upper()])
    )
    blocks.append(Block("title", [(title, HEADER)], {"align": r.choice(["left", "center", "center"])}))
    if r.random() < 0.6:
        sub = vocab.company(r) if r.random() < 0.5 else f"{vocab.address(r)}, {vocab.city(r)}"
        blocks.append(Block("subtitle", [(sub, None)]))
    if r.random() < 0.4:
        blocks.append(paragraph_block(r, broad))
    for _ in range(r.randint(3, 5)):
        if r.random() < 0.75:
            blocks.append(Block("section", [(vocab.section_title(r), HEADER)]))
        for _ in range(r.randint(2, 5)):
            kind = r.choices(
                ["kv", "checks", "table", "paragraph", "stamp"],
                weights=[10, 1.2, 1.2, 3 if broad else 1.5, 0.4 if broad else 0],
            )[0]
            if kind == "stamp":
                blocks.append(stamp_block(r))
            elif kind == "kv":
                blocks.append(kv_block(r, columns=r.choice([1, 1, 2, 3] if broad else [1, 1, 2]), broad=broad))
            elif kind == "checks":
                blocks.append(checks_block(r))
            elif kind == "table":
                blocks.append(table_block(r))
            else:
                blocks.append(paragraph_block(r, broad))
    footer = r.choice(
        [
            f"Page {r.randint(1, 3)} of {r.randint(3, 5)}",
            f"Form {vocab.code(r)} Rev. {vocab.date(r)}",
            vocab.sentence(r, 4, 8),
        ]
        + ([vocab.doc_id(r)] * 3 if broad else [])
    )
    blocks.append(Block("footer", [(footer, None)]))
    return blocks


def page_texts(seed: int, broad: bool = True) -> str:
    """The text of the page seeded by ``seed`` (as planned; a full page may drop the tail)."""
    blocks = make_blocks(random.Random(seed), broad)
    return " ".join(t for b in blocks for t in b.texts() if t)
