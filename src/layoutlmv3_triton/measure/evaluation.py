"""Score the *served* ensemble on a labelled FUNSD-format dataset: entity-level P/R/F1.

Why through the server: the validation F1 of training is measured on the ground-truth
words; the server reads Tesseract's words, which can be split, merged, misread or missed.
This module sends each page image through the ensemble with the torch-free client,
maps the server's words back onto the ground-truth words by box overlap and scores the
ground-truth word sequence, so every OCR miss costs what it costs in production.

The matching rule (also in docs/evaluation.md):

1. Ground-truth boxes (0..1000) are converted to pixels with the page image's size;
   OCR word boxes are the server's pixel boxes (rescaled if the server reports another
   page size than the image's).
2. Each OCR word is assigned to the ground-truth word with the largest
   ``intersection area / OCR word area`` ("cover"), if that cover is at least
   ``min_cover`` (0.5); otherwise it is unassigned.  Ties go to the earlier ground-truth word.
   (The rule lives in measure/matching.py, shared with training's OCR re-labelling.)
3. Each ground-truth word takes the predicted tag of the *first* OCR word (in the
   server's reading order) assigned to it.  A ground-truth word with no OCR word is
   predicted ``O``: a miss.  Unassigned OCR words are ignored (they have no gold label).
4. Entities are extracted with seqeval from the gold and predicted tag sequences over
   the ground-truth words of each page (IOB2 tags; seqeval's default CoNLL mode, in
   which an ``I-X`` that follows no ``X`` starts an entity, exactly as the server decodes;
   ``strict=True`` uses seqeval's strict IOB2 mode).  An entity counts as correct when its
   type, first and last word match; precision, recall and F1 are micro-averaged over
   all pages, and also given per label.

OCR quality comes with it: the share of ground-truth words found by box (some OCR word
was assigned to it) and by box and text (the OCR words assigned to it spell its text,
case-insensitive), overall and per page.

The data is a ``datasets`` folder or hub name (boxes in 0..1000), or a folder in FUNSD's
own layout (``annotations/*.json`` + ``images/``, measure/funsd_layout.py; boxes in pixels,
tags from each entity's ``label``); :func:`_source` tells them apart.

Only the standard library, numpy, Pillow, datasets, seqeval and the client are imported:
no torch, no transformers.
"""
from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from layoutlmv3_triton import contract

from layoutlmv3_triton.measure import funsd, funsd_layout
from layoutlmv3_triton.errors import LayoutLMv3TritonError
from layoutlmv3_triton.measure.matching import MIN_COVER, cover_matrix, match_words, word_recall
from layoutlmv3_triton.measure.pairs import pair_report, served_counts
from layoutlmv3_triton.measure.scoring import entity_scores
from layoutlmv3_triton.serving.linking import load_linker
SPLIT_PREFERENCE = ("test", "validation", "train")
MATCHING_RULE = (
    "each OCR word (pixels) goes to the ground-truth word (0..1000 boxes scaled to pixels) with the largest "
    "intersection / OCR-word area, if >= min_cover; each ground-truth word takes the predicted tag of the first "
    "OCR word (reading order) assigned to it; unmatched ground-truth words are predicted O; entities by seqeval "
    "over the ground-truth word sequence (IOB2 tags)"
)


class EvaluationError(LayoutLMv3TritonError):
    """The dataset cannot be read or is not in FUNSD's format."""


# --- matching ------------------------------------------------------------------------------

def gt_boxes_to_pixels(boxes: Sequence[Sequence[float]], width: int, height: int,
                       scale: int = contract.BBOX_SCALE) -> np.ndarray:
    """Ground-truth boxes in 0..``scale`` -> float pixel boxes of a ``width`` x ``height`` page."""
    arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return arr * np.array([width, height, width, height], dtype=np.float64) / scale


def project_labels(assignment: Sequence[int], ocr_labels: Sequence[str], n_gt: int,
                   outside: str = "O") -> tuple[list[str], list[bool]]:
    """(predicted tag per ground-truth word, matched flag per ground-truth word) (rule step 3)."""
    pred = [outside] * n_gt
    matched = [False] * n_gt
    for j, label in zip(assignment, ocr_labels):
        if 0 <= j < n_gt and not matched[j]:
            pred[j] = label
            matched[j] = True
    return pred, matched


# --- one page ------------------------------------------------------------------------------

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


@dataclass
class PageEval:
    id: str
    gold: list[str]
    pred: list[str]
    matched: list[bool]  # found by box
    ocr_words: int = 0
    assigned_ocr_words: int = 0
    error: str | None = None
    text_matched: list[bool] = field(default_factory=list)  # found by box and text (matching.py)
    pairs: Any = None  # measure.pairs.PairCounts, when the truth has linking

    def as_dict(self) -> dict:
        n = len(self.gold)
        entity = entity_scores([self.gold], [self.pred])["overall"]
        return {"id": self.id, "gt_words": n, "ocr_words": self.ocr_words, "matched_gt_words": sum(self.matched),
                "text_matched_gt_words": sum(self.text_matched),
                "word_recall_box": sum(self.matched) / n if n else None,
                "word_recall_box_text": sum(self.text_matched) / n if n else None,
                "assigned_ocr_words": self.assigned_ocr_words,
                "word_accuracy": sum(a == b for a, b in zip(self.gold, self.pred)) / n if n else None,
                "entity_precision": entity["precision"], "entity_recall": entity["recall"], "entity_f1": entity["f1"],
                "error": self.error}


def evaluate_page(truth: GroundTruth, result: dict | None, min_cover: float = MIN_COVER,
                  error: str | None = None) -> PageEval:
    """Map the server's words onto the ground truth; a failed page (``result`` None) predicts ``O``."""
    n = len(truth.words)
    if result is None:
        return PageEval(truth.id, list(truth.tags), ["O"] * n, [False] * n, error=error or "no result",
                        text_matched=[False] * n,
                        pairs=None if truth.layout is None else served_counts(truth.layout, None, []))
    pages = result.get("pages") or []
    words = [w for page in pages[:1] for w in page.get("words", [])]
    page = pages[0] if pages else {}
    sx = truth.width / page["width"] if page.get("width") else 1.0
    sy = truth.height / page["height"] if page.get("height") else 1.0
    ocr_boxes = [[w["box"][0] * sx, w["box"][1] * sy, w["box"][2] * sx, w["box"][3] * sy] for w in words]
    assignment = match_words(ocr_boxes, truth.boxes_in_pixels(), min_cover)
    pred, matched = project_labels(assignment, [str(w.get("label", "O")) for w in words], n)
    recall = word_recall(assignment, [str(w.get("text", "")) for w in words], truth.words)
    return PageEval(truth.id, list(truth.tags), pred, matched, ocr_words=len(words),
                    assigned_ocr_words=sum(j >= 0 for j in assignment), error=error, text_matched=recall.by_text,
                    pairs=None if truth.layout is None else served_counts(truth.layout, result, assignment))


def summarize(pages: Sequence[PageEval], strict: bool = False) -> dict:
    """Entity scores, OCR word recall and word accuracy over all pages."""
    scores = entity_scores([p.gold for p in pages], [p.pred for p in pages], strict=strict)
    gt_words = sum(len(p.gold) for p in pages)
    matched = sum(sum(p.matched) for p in pages)
    text_matched = sum(sum(p.text_matched) for p in pages)
    correct_words = sum(a == b for p in pages for a, b in zip(p.gold, p.pred))
    return {
        "entity": scores["overall"],
        "per_label": scores["per_label"],
        "macro_f1": scores["macro_f1"],
        "gt_words": gt_words,
        "matched_gt_words": matched,
        "ocr_word_recall": matched / gt_words if gt_words else 0.0,  # = word_recall_box (older reports' name)
        "word_recall_box": matched / gt_words if gt_words else 0.0,
        "text_matched_gt_words": text_matched,
        "word_recall_box_text": text_matched / gt_words if gt_words else 0.0,
        "ocr_words": sum(p.ocr_words for p in pages),
        "assigned_ocr_words": sum(p.assigned_ocr_words for p in pages),
        "word_accuracy": correct_words / gt_words if gt_words else 0.0,
    }


# --- data ----------------------------------------------------------------------------------

def load_pages(data: str | Path | None = None, dataset: str | None = None, split: str | None = None,
               limit: int | None = None) -> tuple[Any, str | None, list[str]]:
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


def _hf_source(cfg: "EvalConfig") -> tuple[list[GroundTruth], list[Loader], str | None, list[str]]:
    """Pages of a ``datasets`` folder or hub name: images re-encoded as PNG, boxes in 0..1000."""
    ds, split, tag_names = load_pages(cfg.data, cfg.dataset, cfg.split, cfg.limit)
    if not len(ds):
        raise EvaluationError("the dataset has no pages")
    cols = ds.select_columns([c for c in ("id", "tokens", "bboxes", "ner_tags") if c in ds.column_names])
    truths = [GroundTruth(str(row.get("id", i)), list(row["tokens"]), [list(b) for b in row["bboxes"]],
                          [tag_names[t] for t in row["ner_tags"]], 0, 0) for i, row in enumerate(cols)]
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


def _funsd_layout_source(cfg: "EvalConfig") -> tuple[list[GroundTruth], list[Loader], str | None, list[str]]:
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
        truths.append(GroundTruth(page.id, list(page.words), [list(b) for b in page.boxes], list(page.tags),
                                  width, height, pixel_boxes=True, layout=page))
    return truths, [page.image_path.read_bytes for page in pages]


def _labelstudio_source(cfg: "EvalConfig") -> tuple[list[GroundTruth], list[Loader], str | None, list[str]]:
    """Pages of a Label Studio OCR-template export (measure/labelstudio.py): images sent as stored."""
    from layoutlmv3_triton.measure import labelstudio

    try:
        pages, tag_names = labelstudio.read_pages(cfg.data, limit=cfg.limit)  # type: ignore[arg-type]
    except labelstudio.LabelStudioError as exc:
        raise EvaluationError(str(exc)) from exc
    return (*_page_truths(pages), None, list(tag_names))


def _source(cfg: "EvalConfig") -> tuple[list[GroundTruth], list[Loader], str | None, list[str], str]:
    """(truths, one image loader per page, split, tag names, format) of the data ``cfg`` names.

    A ``--data`` folder in FUNSD's own layout (``annotations/`` + ``images/``, or a download
    holding ``training_data/``/``testing_data/``) is read as such, and so is a Label Studio
    export (its JSON file, or a folder holding it); anything else is a ``datasets`` folder
    or hub name.
    """
    if cfg.data and funsd_layout.is_layout(cfg.data):
        return (*_funsd_layout_source(cfg), "funsd-layout")
    from layoutlmv3_triton.measure import labelstudio

    if cfg.data and labelstudio.is_export(cfg.data):
        return (*_labelstudio_source(cfg), "label-studio")
    return (*_hf_source(cfg), "datasets")


# --- the whole run -------------------------------------------------------------------------

@dataclass
class EvalConfig:
    url: str
    data: str | None = None
    dataset: str | None = None
    split: str | None = None
    protocol: str = "grpc"
    concurrency: int = 4
    limit: int | None = None
    min_cover: float = MIN_COVER
    strict: bool = False
    timeout_s: float = 300.0
    progress: bool = True
    linker: str | None = None  # linker.json for pair_f1_given_entities (default: the geometric rules)


@dataclass
class EvalRun:
    report: dict
    pages: list[PageEval] = field(default_factory=list)

    @property
    def f1(self) -> float:
        return float(self.report["entity"]["f1"])

    @property
    def failed(self) -> int:
        return int(self.report["pages_failed"])


def evaluate(cfg: EvalConfig, client: Any = None,
             on_page: Callable[[PageEval], None] | None = None) -> EvalRun:
    """Send every page through the served ensemble and score the results.

    ``client`` defaults to a :class:`layoutlmv3_client.DocumentClient` on ``cfg.url``
    (checked for readiness first: raises the client's ServerUnavailableError or
    ModelNotReadyError).  A page the server fails is scored as if nothing was found.
    """
    from layoutlmv3_client import DocumentClient

    truths, loaders, split, tag_names, layout = _source(cfg)
    own_client = client is None
    if own_client:
        client = DocumentClient(cfg.url, protocol=cfg.protocol, timeout_s=cfg.timeout_s)
    results: list[PageEval | None] = [None] * len(truths)
    model_labels: list[str] | None = None
    started = time.perf_counter()
    bar = None
    try:
        client.check()
        if cfg.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(truths), desc="evaluate", unit="page")
        for outcome in client.infer_many(iter(loaders), concurrency=cfg.concurrency):
            truth = truths[outcome.index]
            if outcome.ok:
                model_labels = model_labels or list(outcome.result.get("labels") or [])
                page = evaluate_page(truth, outcome.result, cfg.min_cover)
            else:
                page = evaluate_page(truth, None, error=str(outcome.error))
            results[outcome.index] = page
            if on_page is not None:
                on_page(page)
            if bar is not None:
                bar.update(1)
                if page.error:
                    bar.set_postfix(failed=sum(1 for p in results if p is not None and p.error))
    finally:
        if bar is not None:
            bar.close()
        if own_client:
            client.close()
    seconds = time.perf_counter() - started
    pages = [p for p in results if p is not None]
    summary = summarize(pages, strict=cfg.strict)
    errors = [{"id": p.id, "error": p.error} for p in pages if p.error]
    report = {
        "model": contract.ENSEMBLE,
        "url": cfg.url,
        "protocol": cfg.protocol,
        "data": str(cfg.data or cfg.dataset),
        "format": layout,
        "split": split,
        "pages": len(pages),
        "pages_failed": len(errors),
        "dataset_labels": tag_names,
        "model_labels": model_labels,
        "scheme": "IOB2",
        "mode": "strict" if cfg.strict else "default",
        "matching": {"rule": MATCHING_RULE, "min_cover": cfg.min_cover},
        **summary,
        "seconds": round(seconds, 3),
        "pages_per_second": round(len(pages) / seconds, 3) if seconds > 0 else None,
        "concurrency": cfg.concurrency,
        "errors": errors,
        "per_page": [p.as_dict() for p in pages],
    }
    if any(t.layout is not None for t in truths):
        report["pairs"] = pair_report([t.layout for t in truths if t.layout is not None], [p.pairs for p in pages],
                                      load_linker(cfg.linker) if cfg.linker else None)
    return EvalRun(report, pages)


def label_mismatch(report: dict) -> str | None:
    """A warning when the model's tags do not cover the dataset's (entities could never match)."""
    model, data = report.get("model_labels"), report.get("dataset_labels") or []
    if not model:
        return None
    missing = [t for t in data if t not in model]
    if missing:
        return f"the model has no tags {missing} of the dataset; those entities can never be found"
    return None


def format_table(report: dict) -> str:
    """The per-label table plus overall (micro) and macro rows, as plain text."""
    head = f"{'label':<12} {'precision':>9} {'recall':>7} {'f1':>7} {'gold':>6} {'pred':>6} {'correct':>7}"
    lines = [head, "-" * len(head)]

    def row(name: str, s: dict) -> str:
        return (f"{name:<12} {s['precision']:>9.4f} {s['recall']:>7.4f} {s['f1']:>7.4f} "
                f"{s['gold']:>6} {s['predicted']:>6} {s['correct']:>7}")

    for name, s in report["per_label"].items():
        lines.append(row(name, s))
    lines.append("-" * len(head))
    lines.append(row("overall", report["entity"]))
    lines.append(f"{'macro f1':<12} {'':>9} {'':>7} {report['macro_f1']:>7.4f}")
    lines.append("")
    lines.append(f"pages {report['pages']} (failed {report['pages_failed']}), "
                 f"{report['pages_per_second'] or 0:.2f} pages/s at concurrency {report['concurrency']}")
    lines.append(f"OCR word recall by box {report['word_recall_box']:.4f}, by box and text "
                 f"{report['word_recall_box_text']:.4f} ({report['matched_gt_words']} and "
                 f"{report['text_matched_gt_words']} of {report['gt_words']} ground-truth words), "
                 f"word accuracy {report['word_accuracy']:.4f}")
    return "\n".join(lines)


def format_per_page(report: dict) -> str:
    """One line per page: word recalls and entity P/R/F1 (``evaluate --per-page``)."""
    head = (f"{'page':<16} {'words':>5} {'box':>6} {'box+text':>8} {'precision':>9} {'recall':>7} {'f1':>7}  error")
    lines = [head, "-" * len(head)]
    for p in report["per_page"]:
        def num(key: str, width: int) -> str:
            value = p.get(key)
            return f"{value:>{width}.4f}" if value is not None else f"{'-':>{width}}"
        lines.append(f"{p['id'][:16]:<16} {p['gt_words']:>5} {num('word_recall_box', 6)} "
                     f"{num('word_recall_box_text', 8)} {num('entity_precision', 9)} {num('entity_recall', 7)} "
                     f"{num('entity_f1', 7)}  {p['error'] or ''}".rstrip())
    return "\n".join(lines)


def f1_line(report: dict) -> str:
    """The last line of ``layoutlmv3-triton evaluate``: ``entity_f1=0.xxxx``."""
    return f"entity_f1={report['entity']['f1']:.4f}"


def write_report(report: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


__all__ = [
    "EvalConfig", "EvalRun", "EvaluationError", "GroundTruth", "MATCHING_RULE", "MIN_COVER", "PageEval",
    "cover_matrix", "entity_scores", "evaluate", "evaluate_page", "f1_line", "format_per_page", "format_table",
    "gt_boxes_to_pixels", "label_mismatch", "load_pages", "match_words", "png_bytes", "project_labels",
    "summarize", "write_report",
]
