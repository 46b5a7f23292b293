"""Where the evaluation's labelled pages come from: a ``datasets`` folder or hub name
(boxes in 0..1000, images re-encoded as PNG), or a folder in FUNSD's own layout
(``annotations/*.json`` + ``images/``, datasets/funsd_layout.py; boxes in pixels, tags from
each entity's ``label``); :func:`read_source` tells them apart.

Each source gives the ground truth of every page and one image loader per page, so the
images are read only while their requests are sent.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from layoutlmv3_triton import contract
from layoutlmv3_triton.datasets import funsd, funsd_layout, labelstudio
from layoutlmv3_triton.errors import LayoutLMv3TritonError

SPLIT_PREFERENCE = ("test", "validation", "train")


class EvaluationError(LayoutLMv3TritonError):
    """The dataset cannot be read or is not in FUNSD's format."""


class SourceOptions(Protocol):
    """What a source reads from the evaluation's config (measure.evaluation.EvalConfig)."""

    data: str | None
    dataset: str | None
    split: str | None
    limit: int | None


def gt_boxes_to_pixels(
    boxes: Sequence[Sequence[float]], width: int, height: int, scale: int = contract.BBOX_SCALE
) -> np.ndarray:
    """Ground-truth boxes in 0..``scale`` -> float pixel boxes of a ``width`` x ``height`` page."""
    arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return arr * np.array([width, height, width, height], dtype=np.float64) / scale


@dataclass
class GroundTruth:
    """One labelled page: words, boxes, tags and the image size in pixels.

    Boxes are in 0..1000 (the HF datasets format), or in pixels when ``pixel_boxes``
    (FUNSD's own layout)."""

    id: str
    words: list[str]
    boxes: list[list[float]]
    tags: list[str]
    width: int
    height: int
    pixel_boxes: bool = False
    layout: Any = None  # the funsd_layout.Page (entities, linking) when pairs can be scored

    def boxes_in_pixels(self) -> np.ndarray:
        if self.pixel_boxes:
            return np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        return gt_boxes_to_pixels(self.boxes, self.width, self.height)


# --- data ----------------------------------------------------------------------------------


def load_pages(
    data: str | Path | None = None, dataset: str | None = None, split: str | None = None, limit: int | None = None
) -> tuple[Any, str | None, list[str]]:
    """(dataset with undecoded images, split name, tag names) from a folder or a hub name.

    ``data`` is a ``save_to_disk`` folder (``layoutlmv3-triton synth``); ``dataset`` a
    ``datasets.load_dataset`` name such as ``nielsr/funsd-layoutlmv3``.  Without ``split``,
    a DatasetDict gives its test, else validation, else train split.
    """
    import datasets

    try:
        ds = funsd.open_dataset(data=data, dataset=dataset)
        ds, picked = funsd.pick_split(ds, (split,) if split else SPLIT_PREFERENCE, str(data or dataset))
        if split and picked is None:
            raise EvaluationError(f"{data or dataset} holds a single split; leave out --split")
        split = picked
        names = funsd.label_names(funsd.check_columns(ds))
    except funsd.DatasetError as exc:
        raise EvaluationError(str(exc)) from exc
    if limit is not None:
        ds = ds.select(range(min(max(0, limit), len(ds))))
    ds = ds.cast_column("image", datasets.Image(decode=False))
    return ds, split, names


def png_bytes(image_cell: dict) -> tuple[bytes, tuple[int, int]]:
    """The dataset's image re-encoded as PNG (RGB), and its (width, height)."""
    from PIL import Image

    raw = image_cell.get("bytes")
    source = io.BytesIO(raw) if raw else image_cell.get("path")
    if not source:
        raise EvaluationError("image cell has neither bytes nor a path")
    with Image.open(source) as image:
        rgb = image.convert("RGB")
    buf = io.BytesIO()
    rgb.save(buf, format="PNG")
    return buf.getvalue(), rgb.size


Loader = Callable[[], bytes]


def _hf_source(cfg: SourceOptions) -> tuple[list[GroundTruth], list[Loader], str | None, list[str]]:
    """Pages of a ``datasets`` folder or hub name: images re-encoded as PNG, boxes in 0..1000."""
    ds, split, tag_names = load_pages(cfg.data, cfg.dataset, cfg.split, cfg.limit)
    if not len(ds):
        raise EvaluationError("the dataset has no pages")
    cols = ds.select_columns([c for c in ("id", "tokens", "bboxes", "ner_tags") if c in ds.column_names])
    truths = [
        GroundTruth(
            str(row.get("id", i)),
            list(row["tokens"]),
            [list(b) for b in row["bboxes"]],
            [tag_names[t] for t in row["ner_tags"]],
            0,
            0,
        )
        for i, row in enumerate(cols)
    ]
    lock = threading.Lock()

    def loader(i: int) -> Loader:
        def load() -> bytes:
            with lock:  # one Arrow read at a time; decoding and PNG encoding run in parallel
                cell = ds[i]["image"]
            data, (w, h) = png_bytes(cell)
            truths[i].width, truths[i].height = w, h
            return data

        return load

    return truths, [loader(i) for i in range(len(truths))], split, tag_names


def _funsd_layout_source(cfg: SourceOptions) -> tuple[list[GroundTruth], list[Loader], str | None, list[str]]:
    """Pages of FUNSD's own layout: image files sent as they are, pixel boxes, tags from ``label``."""
    try:
        root = funsd_layout.find_root(cfg.data, cfg.split)  # type: ignore[arg-type]
        pages = funsd_layout.read_pages(root, limit=cfg.limit)
    except funsd_layout.FunsdLayoutError as exc:
        raise EvaluationError(str(exc)) from exc
    return (*_page_truths(pages), root.name, list(funsd_layout.LABELS))


def _page_truths(pages: Sequence[Any]) -> tuple[list[GroundTruth], list[Loader]]:
    """``funsd_layout.Page`` objects as ground truth (pixel boxes, entities, linking); images sent as stored."""
    truths = []
    for page in pages:
        width, height = page.image_size()
        truths.append(
            GroundTruth(
                page.id,
                list(page.words),
                [list(b) for b in page.boxes],
                list(page.tags),
                width,
                height,
                pixel_boxes=True,
                layout=page,
            )
        )
    return truths, [page.image_path.read_bytes for page in pages]


def _labelstudio_source(cfg: SourceOptions) -> tuple[list[GroundTruth], list[Loader], str | None, list[str]]:
    """Pages of a Label Studio OCR-template export (datasets/labelstudio.py): images sent as stored."""
    try:
        pages, tag_names = labelstudio.read_pages(cfg.data, limit=cfg.limit)  # type: ignore[arg-type]
    except labelstudio.LabelStudioError as exc:
        raise EvaluationError(str(exc)) from exc
    return (*_page_truths(pages), None, list(tag_names))


def read_source(cfg: SourceOptions) -> tuple[list[GroundTruth], list[Loader], str | None, list[str], str]:
    """(truths, one image loader per page, split, tag names, format) of the data ``cfg`` names.

    A ``--data`` folder in FUNSD's own layout (``annotations/`` + ``images/``, or a download
    holding ``training_data/``/``testing_data/``) is read as such, and so is a Label Studio
    export (its JSON file, or a folder holding it); anything else is a ``datasets`` folder
    or hub name.
    """
    if cfg.data and funsd_layout.is_layout(cfg.data):
        return (*_funsd_layout_source(cfg), "funsd-layout")
    if cfg.data and labelstudio.is_export(cfg.data):
        return (*_labelstudio_source(cfg), "label-studio")
    return (*_hf_source(cfg), "datasets")
