"""Benchmark the served ensemble against the naive pipeline, on the same pages.

One run measures (a) the naive baseline (pytesseract -> HF processor -> PyTorch eager),
(b) the per-request design of the original Triton example (pytesseract subprocess,
ONNX Runtime at batch 1), (c) this ensemble on a real tritonserver driven by the real
perf_analyzer over a concurrency sweep, and (d) every stage's compute cost and the
compute bound they imply.  Writes bench.json, bench.md and bench.png to --output.
(c) and (d) run once per OCR engine (--ocr-engine): Tesseract, and PP-OCR with its two
networks as stages of their own; the report sets Tesseract's bound on a GPU host of N cores
(N / OCR CPU per page) beside the CPU per page PP-OCR leaves there.

examples:
  layoutlmv3-triton bench                      # full run, base-size model (INT8), ~10 min
  layoutlmv3-triton bench --quick              # a few minutes
  layoutlmv3-triton bench --quick --preset tiny --pages 2 --output /tmp/bench
  layoutlmv3-triton bench --quantize none --model-instances 1 --model-threads 2
  layoutlmv3-triton bench --pages-dir my_scans/ --pages 16   # your own page images, the first 16
  layoutlmv3-triton bench --quick --ocr-engine ppocr          # only the PP-OCR engine
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from layoutlmv3_triton.repository.configs import ServingOptions
from layoutlmv3_triton.serving.settings import ModelParameters


def _concurrency(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.replace(":", ",").split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from exc
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("concurrency levels must be >= 1")
    return values


def add_arguments(p: argparse.ArgumentParser) -> None:
    defaults = ServingOptions()
    p.add_argument(
        "--output",
        "-o",
        type=Path,
        default=Path("reports/bench"),
        help="report folder: bench.json, bench.md, bench.png, logs (default: %(default)s)",
    )
    p.add_argument("--quick", action="store_true", help="4 pages, concurrency 1 and 4: a few minutes")
    p.add_argument(
        "--preset",
        choices=("tiny", "small", "base"),
        default="base",
        help="random model size (default: %(default)s, same shape as layoutlmv3-base)",
    )
    p.add_argument(
        "--quantize",
        choices=("int8", "none"),
        default="int8",
        help="model the ensemble serves (default: %(default)s; 'none' serves fp32)",
    )
    p.add_argument(
        "--pages",
        type=int,
        default=None,
        help="pages to render and measure (default: 16, quick: 4); with --pages-dir, the first N "
        "images (default: all)",
    )
    p.add_argument(
        "--pages-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="measure on the page images in DIR (png, jpg, tif, ...; name order) instead of "
        "rendered synthetic forms",
    )
    p.add_argument(
        "--concurrency",
        type=_concurrency,
        default=None,
        help="perf_analyzer concurrency levels, e.g. 1,2,4,8 (default: 1,2,4,6,8; quick: 1,4)",
    )
    p.add_argument(
        "--passes", type=int, default=None, help="passes over the pages per concurrency level (default: 3, quick: 2)"
    )
    p.add_argument(
        "--ocr-engine",
        choices=("both", "tesseract", "ppocr"),
        default=None,
        help="OCR engine(s) to measure (default: both when the rapidocr wheel is installed, "
        "else tesseract; the first one measured, tesseract, is the headline)",
    )
    p.add_argument(
        "--work-dir",
        type=Path,
        default=Path("artifacts/bench"),
        help="where the model and repositories are built and reused (default: %(default)s)",
    )
    p.add_argument("--rebuild", action="store_true", help="rebuild the model and repositories")
    p.add_argument("--no-progress", action="store_true", help="no progress display")
    g = p.add_argument_group("served configuration (defaults: configs.ServingOptions)")
    g.add_argument("--preprocess-instances", type=int, default=defaults.preprocess_instances)
    g.add_argument("--model-instances", type=int, default=defaults.model_instances)
    g.add_argument("--model-threads", type=int, default=defaults.model.intra_op_threads)
    g.add_argument("--postprocess-instances", type=int, default=defaults.postprocess_instances)
    g.add_argument("--max-batch-size", type=int, default=defaults.max_batch_size)
    g.add_argument("--max-queue-delay-us", type=int, default=defaults.max_queue_delay_us)


def _engines(choice: str | None) -> tuple[str, ...]:
    if choice is None:
        import importlib.metadata

        try:
            importlib.metadata.distribution("rapidocr")
            choice = "both"
        except importlib.metadata.PackageNotFoundError:
            choice = "tesseract"
    return ("tesseract", "ppocr") if choice == "both" else (choice,)


def run(args: argparse.Namespace) -> int:
    from layoutlmv3_triton.measure.bench.runner import BenchConfig, run_bench

    if args.pages is not None and args.pages < 1:
        print("error: --pages must be at least 1", file=sys.stderr)
        return 2
    if args.pages_dir is not None and not args.pages_dir.is_dir():
        print(f"error: --pages-dir {args.pages_dir} is not a folder", file=sys.stderr)
        return 2

    serving = ServingOptions(
        preprocess_instances=args.preprocess_instances,
        model_instances=args.model_instances,
        model=ModelParameters(intra_op_threads=args.model_threads),
        postprocess_instances=args.postprocess_instances,
        max_batch_size=args.max_batch_size,
        max_queue_delay_us=args.max_queue_delay_us,
    )
    config = BenchConfig(
        ocr_engines=_engines(args.ocr_engine),
        output=args.output,
        work_dir=args.work_dir,
        preset=args.preset,
        quantize=None if args.quantize == "none" else args.quantize,
        quick=args.quick,
        pages=args.pages,
        pages_dir=args.pages_dir,
        concurrency=args.concurrency,
        passes=args.passes,
        serving=serving,
        rebuild=args.rebuild,
        progress=not args.no_progress,
    )
    report, paths = run_bench(config)
    print(Path(paths["markdown"]).read_text())
    print(json.dumps({k: report[k] for k in ("speedup_vs_naive", "speedup_vs_per_request", "fraction_of_bound")}))
    print(f"wrote {paths['json']}, {paths['markdown']}, {paths['plot']}", file=sys.stderr)
    return 0
