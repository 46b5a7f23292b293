"""Load FUNSD-format datasets and encode them for LayoutLMv3, as a LightningDataModule.

Why one format: a folder written by ``save_to_disk`` (``layoutlmv3-triton synth``, or a
local FUNSD copy) and a hub dataset such as ``nielsr/funsd-layoutlmv3`` both have the
columns ``tokens``, ``bboxes`` (0..1000), ``ner_tags`` (a ClassLabel sequence) and
``image``.  Label names are read from the ClassLabel feature, never hard-coded.

Pages are encoded once, in memory (pixel values as float16), because re-running the
image processor every epoch costs more CPU than the small models train with.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from layoutlmv3_triton.datasets.funsd import DatasetError, check_columns, label_names, open_dataset, pick_split

__all__ = [
    "LABEL_PAD",
    "Collator",
    "DatasetError",
    "FunsdDataModule",
    "encode_dataset",
    "fingerprint",
    "jitter_word_boxes",
    "label_names",
    "load_split",
    "split_off",
]

LABEL_PAD = -100  # ignored by the loss: special tokens, padding and non-first sub-tokens


COLUMNS = ("id", "tokens", "bboxes", "ner_tags", "image")  # what training reads; other columns are dropped


def load_split(*, data: str | Sequence[str] | None = None, dataset: str | None = None, split: str = "train") -> Any:
    """One split from folders (``data``) or ``datasets.load_dataset`` (``dataset``).

    ``data`` is one folder or several, concatenated: each a ``save_to_disk`` folder or a
    folder in FUNSD's own layout (``annotations/*.json`` + ``images/``; XFUND's is the
    same), optionally suffixed ``*N`` to repeat it N times (a few real forms among many
    synthetic pages).
    """
    import datasets

    if dataset or isinstance(data, str) and not _repeat(data)[1] > 1:
        return _load_one(data=data, dataset=dataset, split=split)
    parts = []
    for item in ([data] if isinstance(data, str) else list(data or [])):
        folder, times = _repeat(item)
        ds = _load_one(data=folder, split=split)
        parts.extend([ds.select_columns([c for c in COLUMNS if c in ds.column_names])] * times)
    if not parts:
        raise DatasetError("no training data given")
    names = [label_names(p) for p in parts]
    if any(n != names[0] for n in names):
        raise DatasetError(f"the data folders have different label sets: {names}")
    return datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]


def _repeat(item: str) -> tuple[str, int]:
    folder, star, times = item.rpartition("*")
    if star and times.isdigit() and int(times) >= 1:
        return folder, int(times)
    return item, 1


def _load_one(*, data: str | None = None, dataset: str | None = None, split: str = "train") -> Any:
    from layoutlmv3_triton.datasets import funsd_layout, labelstudio

    if data and funsd_layout.is_layout(data):
        return funsd_layout_dataset(data)
    if data and labelstudio.is_export(data):
        try:
            pages, labels = labelstudio.read_pages(data)
        except labelstudio.LabelStudioError as exc:
            raise DatasetError(str(exc)) from exc
        return pages_dataset(pages, labels)
    names = ("train",) if split == "train" else (split, "validation", "test")
    ds = open_dataset(data=data, dataset=dataset)
    ds, _ = pick_split(ds, names, str(data or dataset))
    return check_columns(ds)


def funsd_layout_dataset(folder: str) -> Any:
    """A FUNSD-layout folder (datasets/funsd_layout.py) as a dataset with FUNSD's columns."""
    from layoutlmv3_triton.datasets import funsd_layout

    try:
        pages = funsd_layout.read_pages(folder)
    except funsd_layout.FunsdLayoutError as exc:
        raise DatasetError(str(exc)) from exc
    return pages_dataset(pages, funsd_layout.LABELS)


def pages_dataset(pages: Sequence[Any], labels: Sequence[str]) -> Any:
    """``funsd_layout.Page`` objects (FUNSD's layout, a Label Studio export) as a dataset with FUNSD's columns."""
    import datasets

    index = {name: i for i, name in enumerate(labels)}
    cols: dict[str, list] = {c: [] for c in COLUMNS}
    for page in pages:
        cols["id"].append(page.id)
        cols["tokens"].append(list(page.words))
        cols["bboxes"].append([list(b) for b in page.normalized_boxes()])
        cols["ner_tags"].append([index[t] for t in page.tags])
        cols["image"].append({"bytes": page.image_path.read_bytes(), "path": None})
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "tokens": datasets.Sequence(datasets.Value("string")),
            "bboxes": datasets.Sequence(datasets.Sequence(datasets.Value("int64"))),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=list(labels))),
            "image": datasets.Image(),
        }
    )
    return datasets.Dataset.from_dict(cols, features=features)


def fingerprint(ds: Any) -> str:
    """A stable identity of a dataset's content, for the --skip-if-unchanged cache."""
    fp = getattr(ds, "_fingerprint", None)
    if fp:
        return str(fp)
    h = hashlib.sha256()
    for row in ds.select_columns(["tokens", "bboxes", "ner_tags"]):
        h.update(repr(row).encode())
    return h.hexdigest()[:16]


def split_off(ds: Any, fraction: float, seed: int) -> tuple[Any, Any]:
    """Hold out ``fraction`` of ``ds`` for validation when no validation data is given."""
    if len(ds) < 2:
        raise DatasetError("need at least 2 pages to hold some out for validation; give --val-data")
    n_val = max(1, int(round(len(ds) * fraction)))
    parts = ds.train_test_split(test_size=n_val, seed=seed, shuffle=True)
    return parts["train"], parts["test"]


def encode_dataset(
    ds: Any, processor: Any, max_length: int = 512, box_level: str = "word"
) -> list[dict[str, torch.Tensor]]:
    """Encode every page: words + boxes + first-sub-token labels, truncated to ``max_length``.

    ``box_level`` ``line``/``block``: each word gets its line's box, grouped from the boxes
    (serving/segments.py, the function the server calls on Tesseract's lines).
    """
    from PIL import Image

    from layoutlmv3_triton.serving.segments import boxes_at_level

    out = []
    for row in ds:
        image = row["image"]
        if not isinstance(image, Image.Image):
            raise DatasetError("the image column must decode to PIL images (datasets.Image feature)")
        boxes = [[min(1000, max(0, int(v))) for v in box] for box in row["bboxes"]]
        boxes = [[int(v) for v in box] for box in boxes_at_level(boxes, box_level)]
        enc = processor(
            image.convert("RGB"),
            row["tokens"],
            boxes=boxes,
            word_labels=row["ner_tags"],
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        out.append(
            {
                "input_ids": enc["input_ids"][0],
                "attention_mask": enc["attention_mask"][0],
                "bbox": enc["bbox"][0],
                "labels": enc["labels"][0],
                "pixel_values": enc["pixel_values"][0].to(torch.float16),
            }
        )
    return out


def jitter_word_boxes(bbox: torch.Tensor, jitter: int, keep: torch.Tensor | None = None) -> torch.Tensor:
    """Move every word's box corners by a random -jitter..jitter (0..1000 units), the same for all its tokens.

    Why: synthetic ground-truth boxes are exact, Tesseract's are a pixel or two off and vary
    with the glyphs; a model trained from scratch on exact boxes learns their exact values
    (a 1-unit shift cost 2 F1 points) and loses 7 points on OCR boxes.  A word is a run of
    consecutive tokens with the same box, so its sub-tokens keep sharing one box, as they do
    when served.  ``keep`` marks tokens (specials, padding) whose boxes stay as they are.
    """
    b, s, _ = bbox.shape
    start = torch.ones(b, s, dtype=torch.bool)
    start[:, 1:] = (bbox[:, 1:] != bbox[:, :-1]).any(-1)
    word = start.cumsum(1) - 1
    noise = torch.randint(-jitter, jitter + 1, (b, s, 4), dtype=bbox.dtype)
    noise = torch.gather(noise, 1, word.unsqueeze(-1).expand(-1, -1, 4))
    if keep is not None:
        noise = noise.masked_fill(keep.unsqueeze(-1), 0)
    moved = (bbox + noise).clamp(0, 1000)
    x1 = torch.maximum(moved[..., 2], moved[..., 0])
    y1 = torch.maximum(moved[..., 3], moved[..., 1])
    return torch.stack([moved[..., 0], moved[..., 1], x1, y1], dim=-1)


@dataclass
class Collator:
    """Pad a batch to its longest page (padding per batch, not to 512)."""

    pad_token_id: int = 1
    mask_token_id: int | None = None
    token_dropout: float = 0.0  # training only: share of word tokens replaced by <mask>
    special_ids: tuple[int, ...] = ()  # never hidden: <s>, </s>, <pad>, ...
    box_jitter: int = 0  # training only: each word's box coordinates move by up to this many 0..1000 units

    def __call__(self, items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        n = max(len(i["input_ids"]) for i in items)

        def pad(key: str, value: int) -> torch.Tensor:
            rows = []
            for item in items:
                t = item[key]
                fill = torch.full((n - len(t), *t.shape[1:]), value, dtype=t.dtype)
                rows.append(torch.cat([t, fill]))
            return torch.stack(rows)

        input_ids = pad("input_ids", self.pad_token_id)
        bbox = pad("bbox", 0)
        dropout = self.token_dropout > 0 and self.mask_token_id is not None
        if dropout or self.box_jitter > 0:
            special = torch.isin(input_ids, torch.tensor([self.pad_token_id, *self.special_ids]))
            if dropout:  # drawn before the jitter: the random stream, hence a seeded run, stays as measured
                # Why: a model trained from scratch on few pages memorises words ("Engineering" is an
                # answer); hiding some words makes it read the layout and the neighbours too.
                hide = (torch.rand(input_ids.shape) < self.token_dropout) & ~special
                input_ids = input_ids.masked_fill(hide, self.mask_token_id)
            if self.box_jitter > 0:
                bbox = jitter_word_boxes(bbox, self.box_jitter, keep=special)
        return {
            "input_ids": input_ids,
            "attention_mask": pad("attention_mask", 0),
            "bbox": bbox,
            "labels": pad("labels", LABEL_PAD),
            "pixel_values": torch.stack([i["pixel_values"] for i in items]).to(torch.float32),
        }


class FunsdDataModule(L.LightningDataModule):
    """Train/validation loaders over pre-encoded FUNSD-format pages."""

    def __init__(
        self,
        train_ds: Any,
        val_ds: Any,
        processor: Any,
        *,
        batch_size: int = 8,
        max_length: int = 512,
        num_workers: int = 0,
        token_dropout: float = 0.0,
        box_jitter: int = 0,
        box_level: str = "word",
    ):
        super().__init__()
        if max_length > 512:
            raise DatasetError(f"max_length {max_length} exceeds LayoutLMv3's 512 text positions")
        self.train_ds, self.val_ds, self.processor = train_ds, val_ds, processor
        self.batch_size, self.max_length, self.num_workers = batch_size, max_length, num_workers
        self.box_level = box_level
        self.collate = Collator(pad_token_id=processor.tokenizer.pad_token_id)
        self.train_collate = Collator(
            pad_token_id=processor.tokenizer.pad_token_id,
            mask_token_id=processor.tokenizer.mask_token_id,
            token_dropout=token_dropout,
            special_ids=tuple(processor.tokenizer.all_special_ids),
            box_jitter=box_jitter,
        )
        self.train_items: list[dict[str, torch.Tensor]] | None = None
        self.val_items: list[dict[str, torch.Tensor]] | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_items is None:
            self.train_items = encode_dataset(self.train_ds, self.processor, self.max_length, self.box_level)
            self.val_items = encode_dataset(self.val_ds, self.processor, self.max_length, self.box_level)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.train_items,
            batch_size=self.batch_size,
            shuffle=True,
            collate_fn=self.train_collate,
            num_workers=self.num_workers,
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(
            self.val_items,
            batch_size=self.batch_size,
            shuffle=False,
            collate_fn=self.collate,
            num_workers=self.num_workers,
        )
