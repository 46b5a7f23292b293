"""Read FUNSD's original layout: ``annotations/NAME.json`` beside ``images/NAME.png``.

Why a reader of its own: the HF ``datasets`` copies of FUNSD (``datasets/funsd.py``) keep
only words, 0..1000 boxes and tags; the original files also hold the entities, their
grouping of words and the question->answer ``linking`` that pair linking needs, and a
user who downloads FUNSD (or labels forms in its format) has this layout, not Arrow files.
Only the standard library and Pillow (to read an image's size lazily) are imported.

Each annotation is ``{"form": [entity, ...]}``; an entity is ``{"id", "label"
("question" | "answer" | "header" | "other"), "box" [x0, y0, x1, y1] (pixels), "text",
"words": [{"text", "box"}], "linking": [[from_id, to_id], ...]}``.

Tags follow microsoft/unilm's LayoutLMv3 FUNSD loader: words of an ``other`` entity are
``O``; in any other entity the first (non-empty) word is ``B-LABEL`` and the rest
``I-LABEL``.  Words with empty text are dropped (as that loader does).  Words keep the
annotation's order: entity by entity, words in entity order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from layoutlmv3_triton import contract
from layoutlmv3_triton.errors import LayoutLMv3TritonError

# Same tag order as the HF copies of FUNSD (nielsr/funsd-layoutlmv3), so label ids agree.
LABELS = ("O", "B-HEADER", "I-HEADER", "B-QUESTION", "I-QUESTION", "B-ANSWER", "I-ANSWER")
ENTITY_KINDS = ("header", "question", "answer", "other")
# Subfolders of a FUNSD download, in the order `find_root` prefers them (held-out split first).
SPLIT_FOLDERS = ("testing_data", "training_data")

Box = tuple[int, int, int, int]


class FunsdLayoutError(LayoutLMv3TritonError):
    """The folder is not in FUNSD's layout, or an annotation cannot be read."""


@dataclass(frozen=True)
class Entity:
    """One annotated entity.  ``words`` are indices into :attr:`Page.words` (may be empty)."""

    id: int
    label: str  # question | answer | header | other (lower case, as annotated)
    box: Box  # pixels
    text: str
    words: tuple[int, ...]


@dataclass(frozen=True)
class Page:
    """One annotated form page.

    - ``id``: the file stem (``0000971160``); ``image_path``: the page image.
    - ``words``, ``boxes`` (pixels, x0 <= x1, y0 <= y1), ``tags`` (IOB2, from :data:`LABELS`)
      and ``entity_of_word`` (index into ``entities`` of each word's entity): parallel lists.
    - ``entities``: every entity of the annotation, in order (including ``other`` and
      entities with no words).
    - ``linking``: the distinct ``(from_id, to_id)`` pairs of entity *ids* (``Entity.id``),
      e.g. question -> answer, header -> question; each pair once, in first-seen order.
    """

    id: str
    image_path: Path
    words: list[str]
    boxes: list[Box]
    tags: list[str]
    entity_of_word: list[int]
    entities: list[Entity]
    linking: list[tuple[int, int]]

    def image_size(self) -> tuple[int, int]:
        """(width, height) of the image, read from its header only."""
        from PIL import Image

        with Image.open(self.image_path) as image:
            return image.size

    def normalized_boxes(self, width: int | None = None, height: int | None = None, scale: int = 1000) -> list[Box]:
        """Word boxes in 0..``scale`` of the page (LayoutLMv3's bbox), clamped."""
        if width is None or height is None:
            width, height = self.image_size()

        def norm(v: float, size: int) -> int:
            return min(scale, max(0, round(v * scale / size)))

        return [(norm(b[0], width), norm(b[1], height), norm(b[2], width), norm(b[3], height)) for b in self.boxes]

    def entity_by_id(self) -> dict[int, Entity]:
        return {e.id: e for e in self.entities}


def is_layout(path: str | Path) -> bool:
    """True when ``path`` holds ``annotations/`` and ``images/``, or a FUNSD split folder that does."""
    try:
        find_root(path)
    except FunsdLayoutError:
        return False
    return True


def find_root(path: str | Path, split: str | None = None) -> Path:
    """The folder holding ``annotations/`` and ``images/``.

    ``path`` may be that folder itself or a FUNSD download holding ``testing_data/`` and/or
    ``training_data/`` (``split`` picks one: ``testing``/``training`` or the folder name;
    default: testing, else training).
    """
    base = Path(path)
    if split is None and _has_pair(base):
        return base
    names = SPLIT_FOLDERS if split is None else (split if split.endswith("_data") else f"{split}_data",)
    for name in names:
        if _has_pair(base / name):
            return base / name
    wanted = "annotations/ and images/" + (f" under {names[0]}/" if split else "")
    raise FunsdLayoutError(f"{base} is not in FUNSD's layout: expected {wanted}")


def _has_pair(folder: Path) -> bool:
    return (folder / "annotations").is_dir() and (folder / "images").is_dir()


def annotation_files(root: Path) -> list[Path]:
    """Annotation files in name order (a stable page order across runs and machines)."""
    return sorted((root / "annotations").glob("*.json"))


def _image_for(root: Path, stem: str) -> Path:
    for suffix in contract.IMAGE_SUFFIXES:
        candidate = root / "images" / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    raise FunsdLayoutError(f"no image for annotation {stem} in {root / 'images'}")


def _box(raw: object, where: str) -> Box:
    try:
        x0, y0, x1, y1 = (int(round(float(v))) for v in raw)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise FunsdLayoutError(f"{where}: box {raw!r} is not four numbers") from exc
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def read_page(annotation: str | Path, image: str | Path | None = None) -> Page:
    """One page from its annotation file (the image is found in the sibling ``images/``)."""
    annotation = Path(annotation)
    try:
        form = json.loads(annotation.read_text(encoding="utf-8"))["form"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FunsdLayoutError(f"cannot read FUNSD annotation {annotation}: {exc}") from exc
    image_path = Path(image) if image else _image_for(annotation.parent.parent, annotation.stem)
    words: list[str] = []
    boxes: list[Box] = []
    tags: list[str] = []
    entity_of_word: list[int] = []
    entities: list[Entity] = []
    linking: dict[tuple[int, int], None] = {}
    for n, raw in enumerate(form):
        where = f"{annotation.name} entity {n}"
        label = str(raw.get("label", "other")).lower()
        if label not in ENTITY_KINDS:
            raise FunsdLayoutError(f"{where}: unknown label {label!r} (expected one of {ENTITY_KINDS})")
        indices: list[int] = []
        for word in raw.get("words", []):
            text = str(word.get("text", "")).strip()
            if not text:
                continue
            indices.append(len(words))
            words.append(text)
            boxes.append(_box(word.get("box"), where))
            tags.append("O" if label == "other" else f"{'I' if len(indices) > 1 else 'B'}-{label.upper()}")
            entity_of_word.append(len(entities))
        for pair in raw.get("linking", []) or []:
            if len(pair) == 2:
                linking[(int(pair[0]), int(pair[1]))] = None
        entities.append(
            Entity(
                int(raw.get("id", n)),
                label,
                _box(raw.get("box", (0, 0, 0, 0)), where),
                str(raw.get("text", "")),
                tuple(indices),
            )
        )
    return Page(annotation.stem, image_path, words, boxes, tags, entity_of_word, entities, list(linking))


def iter_pages(path: str | Path, split: str | None = None, limit: int | None = None) -> Iterator[Page]:
    """Pages of a FUNSD-layout folder (see :func:`find_root`), in file-name order."""
    files = annotation_files(find_root(path, split))
    if not files:
        raise FunsdLayoutError(f"no annotations/*.json under {path}")
    for annotation in files[:limit] if limit is not None else files:
        yield read_page(annotation)


def read_pages(path: str | Path, split: str | None = None, limit: int | None = None) -> list[Page]:
    return list(iter_pages(path, split, limit))


__all__ = [
    "ENTITY_KINDS",
    "Entity",
    "FunsdLayoutError",
    "LABELS",
    "Page",
    "annotation_files",
    "find_root",
    "is_layout",
    "iter_pages",
    "read_page",
    "read_pages",
]
