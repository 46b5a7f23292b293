"""Read a Label Studio export made with its OCR template: a region, its transcription, its label.

Why: most people label their own forms in Label Studio.  Its OCR template draws a rectangle
(or polygon) per region, types its text into a per-region ``TextArea`` and picks a label
(``Labels``/``RectangleLabels``); "Export → JSON" writes a list of tasks.  This module turns
such an export into the same :class:`~layoutlmv3_triton.datasets.funsd_layout.Page` objects a
FUNSD-layout folder gives, so ``train --data`` and ``evaluate --data`` take either.

- A **region** is the results sharing one ``id``: its geometry (``x``, ``y``, ``width``,
  ``height`` in percent of the image, ``rotation`` in degrees about the top-left corner, or a
  polygon's ``points``), its ``text`` and its ``labels``.
- A region becomes **one entity**, in reading order (rows, then left to right); its text is
  split into words (lines on ``\\n``, words on spaces), each word getting a share of the
  region's box proportional to its characters.  A region drawn around one word is one word.
  Regions without text are skipped.
- **Labels map to BIO**: ``Question`` → ``B-QUESTION`` for the first word, ``I-QUESTION``
  for the rest; ``Other``/``O`` or no label → ``O``.  When every label is a FUNSD one
  (header, question, answer) the tags are FUNSD's, in FUNSD's order, so the export trains
  next to synthetic pages; other labels give ``O`` plus ``B-``/``I-`` per label, sorted.
- **Relations** (``type: relation``, from the ``Relations`` tag) become ``linking``, so
  ``evaluate`` scores question→answer pairs too.
- **Images** lie beside the JSON file (or in ``images/`` there), found by the file name in
  the task's data (``/data/upload/3/8f2c1d7e-form.png`` → ``8f2c1d7e-form.png``, then
  ``form.png`` without the prefix Label Studio adds on upload).

Only the standard library and Pillow (for an image size the export lacks) are imported.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from layoutlmv3_triton import contract
from layoutlmv3_triton.datasets import funsd_layout
from layoutlmv3_triton.datasets.funsd_layout import Box, Entity, Page

LABEL_TYPES = ("labels", "rectanglelabels", "polygonlabels")
OTHER_LABELS = ("other", "o")
UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")  # Label Studio prefixes uploaded file names with 8 hex digits
IMAGE_KEYS = ("ocr", "image", "img")  # the OCR template's $ocr first


class LabelStudioError(funsd_layout.FunsdLayoutError):
    """The file is not a Label Studio export, or a task in it cannot be read."""


@dataclass
class Region:
    box: tuple[float, float, float, float]  # pixels
    text: str = ""
    label: str = "other"


def find_export(path: str | Path) -> Path:
    """The export file: ``path`` itself, or the one JSON export in folder ``path``."""
    path = Path(path)
    if path.is_file():
        if not _looks_like_export(path):
            raise LabelStudioError(f"{path} is not a Label Studio JSON export (a list of tasks with data)")
        return path
    candidates = [p for p in sorted(path.glob("*.json")) if _looks_like_export(p)] if path.is_dir() else []
    if len(candidates) != 1:
        found = "none" if not candidates else ", ".join(p.name for p in candidates)
        raise LabelStudioError(f"expected one Label Studio JSON export in {path}, found {found}")
    return candidates[0]


def is_export(path: str | Path) -> bool:
    try:
        find_export(path)
    except LabelStudioError:
        return False
    return True


def _looks_like_export(path: Path) -> bool:
    if path.suffix.lower() != ".json" or path.stat().st_size == 0:
        return False
    with open(path, encoding="utf-8", errors="replace") as fh:
        if fh.read(64).lstrip()[:1] != "[":  # FUNSD annotations and datasets' json files are objects
            return False
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return False
    return bool(tasks) and all(isinstance(t, dict) and isinstance(t.get("data"), dict) for t in tasks)


def read_pages(path: str | Path, limit: int | None = None) -> tuple[list[Page], tuple[str, ...]]:
    """The labelled pages of an export and their tag names (see the module doc)."""
    export = find_export(path)
    tasks = json.loads(export.read_text(encoding="utf-8"))
    parsed = []
    for n, task in enumerate(tasks):
        annotation = _annotation(task)
        if annotation is None:  # not labelled (yet), or every annotation was cancelled
            continue
        image_path = _image_for(export.parent, task, n)
        parsed.append((str(task.get("id", n)), image_path, _regions(annotation, image_path, n)))
        if limit is not None and len(parsed) >= limit:
            break
    if not parsed:
        raise LabelStudioError(f"{export} has no task with a submitted annotation")
    kinds = sorted({r.label for _, _, (regions, _) in parsed for r in regions} - {"other"})
    labels = tag_names(kinds)
    return [_page(task_id, image, regions, links) for task_id, image, (regions, links) in parsed], labels


def tag_names(kinds: list[str]) -> tuple[str, ...]:
    """FUNSD's tags when every kind is one of FUNSD's, else ``O`` + ``B-``/``I-`` per kind."""
    if set(kinds) <= set(funsd_layout.ENTITY_KINDS):
        return funsd_layout.LABELS
    return ("O", *(f"{p}-{k.upper()}" for k in kinds for p in ("B", "I")))


def _annotation(task: dict) -> dict | None:
    for annotation in task.get("annotations") or task.get("completions") or []:
        if not annotation.get("was_cancelled") and annotation.get("result") is not None:
            return annotation
    return None


def _image_for(folder: Path, task: dict, n: int) -> Path:
    data = task["data"]
    values = [data[k] for k in IMAGE_KEYS if isinstance(data.get(k), str)]
    values += [v for v in data.values() if isinstance(v, str) and v not in values]
    for value in values:
        name = _file_name(value)
        if not name.lower().endswith(contract.IMAGE_SUFFIXES):
            continue
        for candidate in (name, UPLOAD_PREFIX.sub("", name)):
            for where in (folder, folder / "images"):
                if (where / candidate).is_file():
                    return where / candidate
        raise LabelStudioError(f"task {task.get('id', n)}: image {name} is not beside the export (nor in images/)")
    raise LabelStudioError(f"task {task.get('id', n)}: no image file named in its data {sorted(data)}")


def _file_name(url: str) -> str:
    parsed = urlparse(url)
    local = parse_qs(parsed.query).get("d")  # /data/local-files/?d=folder/form.png
    return Path(unquote(local[0] if local else parsed.path)).name


def _regions(annotation: dict, image_path: Path, n: int) -> tuple[list[Region], list[tuple[int, int]]]:
    """Regions in reading order (top, then left) and the relations between them as index pairs."""
    by_id: dict[str, dict] = {}
    relations = []
    for result in annotation.get("result") or []:
        if result.get("type") == "relation":
            relations.append((str(result.get("from_id")), str(result.get("to_id"))))
            continue
        if "id" not in result or not isinstance(result.get("value"), dict):
            continue
        region = by_id.setdefault(str(result["id"]), {})
        value = result["value"]
        if "original_width" in result and "original_height" in result:
            region["size"] = (float(result["original_width"]), float(result["original_height"]))
        if "points" in value or "width" in value:
            region["geometry"] = value
        if result.get("type") in LABEL_TYPES:
            names = value.get(result["type"]) or []
            region["label"] = str(names[0]).strip().lower() if names else "other"
        if result.get("type") == "textarea":
            texts = value.get("text") or []
            region["text"] = "\n".join(str(t) for t in texts) if isinstance(texts, list) else str(texts)
    size = None
    regions: dict[str, Region] = {}
    for rid, raw in by_id.items():
        if "geometry" not in raw or not raw.get("text", "").strip():
            continue
        if "size" not in raw and size is None:
            from PIL import Image

            with Image.open(image_path) as image:
                size = tuple(float(v) for v in image.size)
        label = raw.get("label", "other")
        regions[rid] = Region(
            _pixel_box(raw["geometry"], raw.get("size") or size),
            raw["text"],
            "other" if label in OTHER_LABELS else label,
        )
    order = reading_order({rid: r.box for rid, r in regions.items()})
    index = {rid: i for i, rid in enumerate(order)}
    links = [(index[a], index[b]) for a, b in relations if a in index and b in index]
    return [regions[rid] for rid in order], links


def reading_order(boxes: dict[str, tuple[float, float, float, float]]) -> list[str]:
    """Keys in reading order: rows top to bottom, left to right in a row.

    A box joins the row above when its vertical centre lies within that row's span: boxes of
    one line differ in top by their glyphs (``John`` rises above ``Name:``), so sorting by
    top alone would shuffle a line.
    """
    rows: list[tuple[float, float, list[str]]] = []
    for key in sorted(boxes, key=lambda k: boxes[k][1]):
        x0, y0, x1, y1 = boxes[key]
        centre = (y0 + y1) / 2
        if rows and rows[-1][0] <= centre <= rows[-1][1]:
            top, bottom, keys = rows[-1]
            rows[-1] = (top, max(bottom, y1), keys + [key])
        else:
            rows.append((y0, y1, [key]))
    return [key for _, _, keys in rows for key in sorted(keys, key=lambda k: boxes[k][0])]


def _pixel_box(value: dict, size: tuple[float, float]) -> tuple[float, float, float, float]:
    """The axis-aligned pixel box around a rectangle (rotated about its top-left corner) or polygon."""
    width, height = size
    if "points" in value:
        points = [(float(x) * width / 100, float(y) * height / 100) for x, y in value["points"]]
    else:
        x, y = float(value["x"]) * width / 100, float(value["y"]) * height / 100
        w, h = float(value["width"]) * width / 100, float(value["height"]) * height / 100
        angle = math.radians(float(value.get("rotation") or 0.0))
        cos, sin = math.cos(angle), math.sin(angle)
        points = [(x + dx * cos - dy * sin, y + dx * sin + dy * cos) for dx, dy in ((0, 0), (w, 0), (w, h), (0, h))]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (max(0.0, min(xs)), max(0.0, min(ys)), min(width, max(xs)), min(height, max(ys)))


def split_region(box: tuple[float, float, float, float], text: str) -> list[tuple[str, Box]]:
    """A region's words with boxes: lines share the height, words the width by their characters."""
    lines = [line for line in text.splitlines() if line.strip()]
    x0, y0, x1, y1 = box
    out = []
    for i, line in enumerate(lines):
        top = y0 + (y1 - y0) * i / len(lines)
        bottom = y0 + (y1 - y0) * (i + 1) / len(lines)
        for match in re.finditer(r"\S+", line):
            left = x0 + (x1 - x0) * match.start() / len(line)
            right = x0 + (x1 - x0) * match.end() / len(line)
            out.append(
                (
                    match.group(),
                    (round(left), round(top), max(round(right), round(left) + 1), max(round(bottom), round(top) + 1)),
                )
            )
    return out


def _page(task_id: str, image_path: Path, regions: list[Region], links: list[tuple[int, int]]) -> Page:
    words: list[str] = []
    boxes: list[Box] = []
    tags: list[str] = []
    entity_of_word: list[int] = []
    entities: list[Entity] = []
    for n, region in enumerate(regions):
        indices = []
        for text, box in split_region(region.box, region.text):
            indices.append(len(words))
            words.append(text)
            boxes.append(box)
            kind = region.label.upper()
            tags.append("O" if region.label == "other" else f"{'I' if len(indices) > 1 else 'B'}-{kind}")
            entity_of_word.append(n)
        rounded = tuple(round(v) for v in region.box)
        entities.append(Entity(n, region.label, rounded, region.text, tuple(indices)))  # type: ignore[arg-type]
    return Page(task_id, image_path, words, boxes, tags, entity_of_word, entities, links)


__all__ = ["LabelStudioError", "find_export", "is_export", "read_pages", "reading_order", "split_region", "tag_names"]
