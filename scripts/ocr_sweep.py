#!/usr/bin/env python3
"""Measure OCR settings on FUNSD-layout forms: word recall by box, by box and text, CPU per page.

Runs the OCR engine in this process (no server) with each setting on every page of
``$FUNSD_DIR`` (or --funsd-dir), matches its words to the ground truth
(layoutlmv3_triton.datasets.matching) and prints one Markdown table row per setting, the
table docs/ocr.md keeps.  CPU is this process's CPU time (time.process_time) spent reading
a page (page scaling included, image decoding not), with OMP_THREAD_LIMIT=1 and
single-threaded onnxruntime sessions, as the served preprocess runs them.

A setting is a space-separated list of OcrConfig fields, e.g. "psm=11 thresholding_method=1
text_height=25", and of PpocrConfig fields with their parameter prefix, e.g. "engine=ppocr
ppocr_text_height=12"; fields left out keep their defaults.  The ppocr engine takes its
graphs from the installed rapidocr wheel, as build-repo does (export/ppocr.py).

examples:
  scripts/ocr_sweep.py --every 3 --setting "psm=11" --setting "psm=11 text_height=25 thresholding_method=1"
  scripts/ocr_sweep.py --limit 25 --setting default --setting "engine=ppocr ppocr_rec_min_width=0"
  scripts/ocr_sweep.py --setting default --json reports/ocr-sweep.json
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # before tesserocr loads: one core per engine, as served

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from layoutlmv3_triton.datasets import funsd_layout  # noqa: E402
from layoutlmv3_triton.datasets.matching import match_words, word_recall  # noqa: E402
from layoutlmv3_triton.serving.images import decode_image  # noqa: E402
from layoutlmv3_triton.serving.ocr import OcrConfig  # noqa: E402
from layoutlmv3_triton.serving.ocr_engines import open_engine  # noqa: E402
from layoutlmv3_triton.serving.page import Word  # noqa: E402
from layoutlmv3_triton.serving.ppocr.config import PpocrConfig  # noqa: E402
from layoutlmv3_triton.serving.segments import BOX_LEVELS, boxes_at_level, segment_boxes  # noqa: E402

HEADER = "| setting | box and text right | box right | CPU s/page | OCR words/page |\n|---|---|---|---|---|"
SEGMENT_HEADER = (
    "| setting | "
    + " | ".join(f"{level} box ≈ entity box" for level in BOX_LEVELS)
    + " |\n|---|"
    + "---|" * len(BOX_LEVELS)
)


Setting = tuple[OcrConfig, PpocrConfig]


def parse_setting(spec: str) -> Setting:
    """``"psm=11 text_height=25"`` -> OcrConfig (and PpocrConfig) with those fields (``default``: defaults)."""
    fields = [f.name for f in dataclasses.fields(OcrConfig)]
    fields += [PpocrConfig.prefix + f.name for f in dataclasses.fields(PpocrConfig)]
    values: dict[str, str] = {}
    for item in spec.split():
        if item == "default":
            continue
        key, sep, value = item.partition("=")
        if not sep or key not in fields:
            raise SystemExit(f"bad setting {item!r}: expected FIELD=VALUE with FIELD one of {', '.join(fields)}")
        values[key if key.startswith(PpocrConfig.prefix) else OcrConfig.prefix + key] = value
    return OcrConfig.from_parameters(values), PpocrConfig.from_parameters(values)


def describe(setting: Setting) -> str:
    """The fields that differ from the defaults (``default`` when none)."""
    changed = []
    for config, prefix in zip(setting, ("", PpocrConfig.prefix)):
        base = type(config)()
        changed += [
            f"{prefix}{f.name}={getattr(config, f.name)}"
            for f in dataclasses.fields(config)
            if getattr(config, f.name) != getattr(base, f.name)
        ]
    return " ".join(changed) or "default"


def measure(
    setting: Setting,
    pages: list[funsd_layout.Page],
    progress: bool = True,
    charset: str = "latin",
    repository: str | None = None,
) -> dict:
    """OCR every page with ``setting``; totals and per-page recalls and CPU seconds."""
    from tqdm.auto import tqdm

    from layoutlmv3_triton.export.ppocr import package_models
    from layoutlmv3_triton.serving.pipeline import repository_ocr_models

    config, ppocr = setting
    per_page = []
    models = (lambda: repository_ocr_models(Path(repository))) if repository else (lambda: package_models(charset))
    with open_engine(config, ppocr, models) as engine:
        engine.read(decode_image(pages[0].image_path.read_bytes()))  # load the models outside the timing
        for page in tqdm(pages, desc=describe(setting)[:40], unit="page", disable=not progress, leave=False):
            image = decode_image(page.image_path.read_bytes())
            started = time.process_time()
            words = engine.read(image)
            cpu = time.process_time() - started
            assignment = match_words([w.box for w in words], page.boxes)
            recall = word_recall(assignment, [w.text for w in words], page.words)
            per_page.append(
                {
                    "id": page.id,
                    "gt_words": recall.gt_words,
                    "by_box": sum(recall.by_box),
                    "by_text": sum(recall.by_text),
                    "ocr_words": len(words),
                    "cpu_s": round(cpu, 4),
                    "segments": segment_agreement(page, words, assignment),
                }
            )
    gt = sum(p["gt_words"] for p in per_page)
    return {
        "setting": describe(setting),
        "config": dataclasses.asdict(config),
        "ppocr": dataclasses.asdict(ppocr),
        "pages": len(per_page),
        "recall_box_text": sum(p["by_text"] for p in per_page) / gt if gt else 0.0,
        "recall_box": sum(p["by_box"] for p in per_page) / gt if gt else 0.0,
        "cpu_s_per_page": sum(p["cpu_s"] for p in per_page) / len(per_page),
        "ocr_words_per_page": sum(p["ocr_words"] for p in per_page) / len(per_page),
        "segments": {
            level: sum(p["segments"][level] for p in per_page) / max(1, sum(p["by_box"] for p in per_page))
            for level in BOX_LEVELS
        },
        "per_page": per_page,
    }


def segment_agreement(page: funsd_layout.Page, words: list[Word], assignment: list[int]) -> dict[str, int]:
    """Per box level: found ground-truth words whose OCR segment box overlaps their entity's box
    (IoU >= 0.5).  LayoutLMv3's FUNSD recipe gives each word its entity's box; this says which
    OCR level comes closest to that at serving time."""
    first: dict[int, int] = {}
    for i, j in enumerate(assignment):
        if j >= 0:
            first.setdefault(j, i)
    entity_box = segment_boxes(page.boxes, page.entity_of_word)
    ocr_boxes = [w.box for w in words]
    out = {}
    for level in BOX_LEVELS:
        boxes = boxes_at_level(ocr_boxes, level, [w.line for w in words], [w.block for w in words])
        out[level] = sum(_iou(boxes[i], entity_box[j]) >= 0.5 for j, i in first.items())
    return out


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def table_row(result: dict) -> str:
    return (
        f"| {result['setting']} | {result['recall_box_text']:.3f} | {result['recall_box']:.3f} | "
        f"{result['cpu_s_per_page']:.3f} | {result['ocr_words_per_page']:.0f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--funsd-dir",
        default=os.environ.get("FUNSD_DIR"),
        help="FUNSD-layout folder (annotations/ + images/, or one holding training_data/); " "default: $FUNSD_DIR",
    )
    parser.add_argument("--split", help="training or testing (default: testing, else training)")
    parser.add_argument(
        "--setting",
        action="append",
        metavar="SPEC",
        help='OcrConfig fields, e.g. "psm=11 text_height=25"; repeat for several (default: default)',
    )
    parser.add_argument(
        "--charset",
        choices=("latin", "full"),
        default="latin",
        help="the ppocr recogniser's characters (export/ppocr.py; default: %(default)s)",
    )
    parser.add_argument(
        "--repository",
        metavar="DIR",
        help="read with this model repository's OCR graphs (ppocr) instead of the wheel's",
    )
    parser.add_argument("--first", type=int, default=0, metavar="N", help="skip the first N pages (before --every)")
    parser.add_argument("--every", type=int, default=1, metavar="K", help="take every K-th page (default: all)")
    parser.add_argument("--limit", type=int, metavar="N", help="at most N pages (after --every)")
    parser.add_argument(
        "--json", metavar="FILE", help="append each setting's full result (per page too) as a JSON line"
    )
    parser.add_argument(
        "--segments",
        action="store_true",
        help="also print, per setting, how often each box level's box matches the word's "
        "ground-truth entity box (IoU >= 0.5)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not args.funsd_dir:
        parser.error("give --funsd-dir or set FUNSD_DIR")
    configs = [parse_setting(spec) for spec in args.setting or ["default"]]
    try:
        pages = funsd_layout.read_pages(args.funsd_dir, args.split)[args.first :: max(1, args.every)][: args.limit]
    except funsd_layout.FunsdLayoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(pages)} pages, {sum(len(p.words) for p in pages)} ground-truth words", file=sys.stderr)
    print(HEADER, flush=True)
    results = []
    for config in configs:
        result = measure(config, pages, progress=not args.no_progress, charset=args.charset, repository=args.repository)
        results.append(result)
        print(table_row(result), flush=True)
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            with open(args.json, "a") as out:
                out.write(json.dumps(result) + "\n")
    if args.segments:
        print()
        print(SEGMENT_HEADER)
        for result in results:
            print(
                f"| {result['setting']} | "
                + " | ".join(f"{result['segments'][level]:.3f}" for level in BOX_LEVELS)
                + " |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
