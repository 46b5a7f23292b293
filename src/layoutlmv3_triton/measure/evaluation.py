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
   (The rule lives in datasets/matching.py, shared with training's OCR re-labelling.)
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
own layout (``annotations/*.json`` + ``images/``, datasets/funsd_layout.py; boxes in pixels,
tags from each entity's ``label``): measure/evaluation_sources.py reads both.  The report's
text forms are in measure/evaluation_report.py.

Only the standard library, numpy, Pillow, datasets, seqeval and the client are imported:
no torch, no transformers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from layoutlmv3_triton import contract
from layoutlmv3_triton.datasets.matching import MIN_COVER, cover_matrix, match_words, word_recall
from layoutlmv3_triton.datasets.pairs import pair_report, served_counts
from layoutlmv3_triton.datasets.scoring import entity_scores
from layoutlmv3_triton.measure.evaluation_report import (
    f1_line,
    format_per_page,
    format_table,
    label_mismatch,
    write_report,
)
from layoutlmv3_triton.measure.evaluation_sources import (
    EvaluationError,
    GroundTruth,
    gt_boxes_to_pixels,
    load_pages,
    png_bytes,
    read_source,
)
from layoutlmv3_triton.serving.linking import load_linker

MATCHING_RULE = (
    "each OCR word (pixels) goes to the ground-truth word (0..1000 boxes scaled to pixels) with the largest "
    "intersection / OCR-word area, if >= min_cover; each ground-truth word takes the predicted tag of the first "
    "OCR word (reading order) assigned to it; unmatched ground-truth words are predicted O; entities by seqeval "
    "over the ground-truth word sequence (IOB2 tags)"
)


# --- matching ------------------------------------------------------------------------------


def project_labels(
    assignment: Sequence[int], ocr_labels: Sequence[str], n_gt: int, outside: str = "O"
) -> tuple[list[str], list[bool]]:
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
class PageEval:
    id: str
    gold: list[str]
    pred: list[str]
    matched: list[bool]  # found by box
    ocr_words: int = 0
    assigned_ocr_words: int = 0
    error: str | None = None
    text_matched: list[bool] = field(default_factory=list)  # found by box and text (matching.py)
    pairs: Any = None  # datasets.pairs.PairCounts, when the truth has linking

    def as_dict(self) -> dict:
        n = len(self.gold)
        entity = entity_scores([self.gold], [self.pred])["overall"]
        return {
            "id": self.id,
            "gt_words": n,
            "ocr_words": self.ocr_words,
            "matched_gt_words": sum(self.matched),
            "text_matched_gt_words": sum(self.text_matched),
            "word_recall_box": sum(self.matched) / n if n else None,
            "word_recall_box_text": sum(self.text_matched) / n if n else None,
            "assigned_ocr_words": self.assigned_ocr_words,
            "word_accuracy": sum(a == b for a, b in zip(self.gold, self.pred)) / n if n else None,
            "entity_precision": entity["precision"],
            "entity_recall": entity["recall"],
            "entity_f1": entity["f1"],
            "error": self.error,
        }


def evaluate_page(
    truth: GroundTruth, result: dict | None, min_cover: float = MIN_COVER, error: str | None = None
) -> PageEval:
    """Map the server's words onto the ground truth; a failed page (``result`` None) predicts ``O``."""
    n = len(truth.words)
    if result is None:
        return PageEval(
            truth.id,
            list(truth.tags),
            ["O"] * n,
            [False] * n,
            error=error or "no result",
            text_matched=[False] * n,
            pairs=None if truth.layout is None else served_counts(truth.layout, None, []),
        )
    pages = result.get("pages") or []
    words = [w for page in pages[:1] for w in page.get("words", [])]
    page = pages[0] if pages else {}
    sx = truth.width / page["width"] if page.get("width") else 1.0
    sy = truth.height / page["height"] if page.get("height") else 1.0
    ocr_boxes = [[w["box"][0] * sx, w["box"][1] * sy, w["box"][2] * sx, w["box"][3] * sy] for w in words]
    assignment = match_words(ocr_boxes, truth.boxes_in_pixels(), min_cover)
    pred, matched = project_labels(assignment, [str(w.get("label", "O")) for w in words], n)
    recall = word_recall(assignment, [str(w.get("text", "")) for w in words], truth.words)
    return PageEval(
        truth.id,
        list(truth.tags),
        pred,
        matched,
        ocr_words=len(words),
        assigned_ocr_words=sum(j >= 0 for j in assignment),
        error=error,
        text_matched=recall.by_text,
        pairs=None if truth.layout is None else served_counts(truth.layout, result, assignment),
    )


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


def evaluate(cfg: EvalConfig, client: Any = None, on_page: Callable[[PageEval], None] | None = None) -> EvalRun:
    """Send every page through the served ensemble and score the results.

    ``client`` defaults to a :class:`layoutlmv3_client.DocumentClient` on ``cfg.url``
    (checked for readiness first: raises the client's ServerUnavailableError or
    ModelNotReadyError).  A page the server fails is scored as if nothing was found.
    """
    from layoutlmv3_client import DocumentClient

    truths, loaders, split, tag_names, layout = read_source(cfg)
    own_client = client is None
    if own_client:
        client = DocumentClient(cfg.url, protocol=cfg.protocol, timeout_s=cfg.timeout_s)
    started = time.perf_counter()
    try:
        client.check()
        pages, model_labels = _score_pages(cfg, client, truths, loaders, on_page)
    finally:
        if own_client:
            client.close()
    seconds = time.perf_counter() - started
    report = {
        "model": contract.ENSEMBLE,
        "url": cfg.url,
        "protocol": cfg.protocol,
        "data": str(cfg.data or cfg.dataset),
        "format": layout,
        "split": split,
        **_report(cfg, truths, pages, tag_names, model_labels, seconds),
    }
    return EvalRun(report, pages)


def _score_pages(
    cfg: EvalConfig,
    client: Any,
    truths: Sequence[GroundTruth],
    loaders: Sequence[Any],
    on_page: Callable[[PageEval], None] | None,
) -> tuple[list[PageEval], list[str] | None]:
    """(each page's evaluation in the data's order, the model's tags): the pages sent with
    ``cfg.concurrency`` requests in flight, with a progress bar when ``cfg.progress``."""
    results: list[PageEval | None] = [None] * len(truths)
    model_labels: list[str] | None = None
    bar = None
    try:
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
    return [p for p in results if p is not None], model_labels


def _report(
    cfg: EvalConfig,
    truths: Sequence[GroundTruth],
    pages: list[PageEval],
    tag_names: list[str],
    model_labels: list[str] | None,
    seconds: float,
) -> dict:
    """The report's scores, tags, rule, speed, errors and per-page lines (and pairs, when the
    truth has linking)."""
    errors = [{"id": p.id, "error": p.error} for p in pages if p.error]
    report = {
        "pages": len(pages),
        "pages_failed": len(errors),
        "dataset_labels": tag_names,
        "model_labels": model_labels,
        "scheme": "IOB2",
        "mode": "strict" if cfg.strict else "default",
        "matching": {"rule": MATCHING_RULE, "min_cover": cfg.min_cover},
        **summarize(pages, strict=cfg.strict),
        "seconds": round(seconds, 3),
        "pages_per_second": round(len(pages) / seconds, 3) if seconds > 0 else None,
        "concurrency": cfg.concurrency,
        "errors": errors,
        "per_page": [p.as_dict() for p in pages],
    }
    if any(t.layout is not None for t in truths):
        report["pairs"] = pair_report(
            [t.layout for t in truths if t.layout is not None],
            [p.pairs for p in pages],
            load_linker(cfg.linker) if cfg.linker else None,
        )
    return report


__all__ = [
    "EvalConfig",
    "EvalRun",
    "EvaluationError",
    "GroundTruth",
    "MATCHING_RULE",
    "MIN_COVER",
    "PageEval",
    "cover_matrix",
    "entity_scores",
    "evaluate",
    "evaluate_page",
    "f1_line",
    "format_per_page",
    "format_table",
    "gt_boxes_to_pixels",
    "label_mismatch",
    "load_pages",
    "match_words",
    "png_bytes",
    "project_labels",
    "summarize",
    "write_report",
]
