"""Score the served ensemble on a labelled FUNSD-format dataset: entity-level P/R/F1.

Each page's image (re-encoded as PNG from a datasets folder, as stored from FUNSD's layout)
is sent through the ensemble with the torch-free client, exactly as a user's page would be.
The server's OCR words are matched to the ground-truth words by box overlap
(docs/evaluation.md); entities are then scored with
seqeval over the ground-truth words, per label and overall.  OCR word recall is reported
too: the share of ground-truth words found by box (some OCR word was matched to it), and
by box and text (those OCR words also spell it, case-insensitive); --per-page adds a line
per page.

--data takes a ``datasets`` folder (``synth``, save_to_disk), a folder in FUNSD's own
layout (annotations/*.json + images/, or a FUNSD download holding training_data/ and
testing_data/), or a Label Studio OCR-template export (its JSON file with the images beside
it, docs/evaluation.md); the format is detected.

Prints a per-label table; once pages are scored, the last line on stdout is ``entity_f1=0.xxxx``.
Exit status: 0 when every page was answered, 1 when some pages failed (they are scored
as if nothing was found on them), 2 when the data or the server cannot be used.

examples:
  layoutlmv3-triton synth --out data/test --n 50 --seed 3 --noise 0.3
  layoutlmv3-triton evaluate --url 127.0.0.1:8001 --data data/test --output reports/eval.json
  layoutlmv3-triton evaluate --url 127.0.0.1:8001 --data funsd/ --split training --per-page
  layoutlmv3-triton evaluate --url 127.0.0.1:8000 --protocol http --dataset nielsr/funsd-layoutlmv3 --split test
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        required=True,
        metavar="HOST:PORT",
        help="Triton server (gRPC port with --protocol grpc, HTTP port with --protocol http)",
    )
    parser.add_argument("--protocol", choices=("grpc", "http"), default="grpc", help="(default: %(default)s)")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--data",
        metavar="DIR",
        help="dataset folder (save_to_disk, FUNSD columns, e.g. from `synth`), "
        "a folder in FUNSD's layout (annotations/ + images/) or a Label "
        "Studio OCR export (the JSON file, images beside it)",
    )
    src.add_argument("--dataset", metavar="NAME", help="datasets.load_dataset name, e.g. nielsr/funsd-layoutlmv3")
    parser.add_argument(
        "--split",
        help="split of a DatasetDict (default: test, else validation, else train); "
        "of a FUNSD download: testing or training (default: testing, else training)",
    )
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight (default: %(default)s)")
    parser.add_argument("--limit", type=int, metavar="N", help="evaluate only the first N pages")
    parser.add_argument(
        "--min-overlap",
        type=float,
        default=0.5,
        metavar="F",
        help="share of an OCR word's box that a ground-truth box must cover to match it " "(default: %(default)s)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="seqeval strict IOB2 mode (an I-X without B-X is no entity); default: CoNLL mode, "
        "as the server decodes",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per request (default: %(default)s)")
    parser.add_argument(
        "--per-page", action="store_true", help="also print each page's word recalls and entity precision/recall/F1"
    )
    parser.add_argument("--output", metavar="FILE", help="write the JSON report here (always has the per-page figures)")
    parser.add_argument(
        "--linker",
        metavar="linker.json",
        help="linker for pair_f1_given_entities (FUNSD layout only; default: the geometric rules)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import sys

    from layoutlmv3_client.errors import ClientError
    from layoutlmv3_triton.datasets.pairs import pair_lines
    from layoutlmv3_triton.measure.evaluation import (
        EvalConfig,
        EvaluationError,
        evaluate,
        f1_line,
        format_per_page,
        format_table,
        label_mismatch,
        write_report,
    )

    if args.concurrency < 1:
        print("error: --concurrency must be at least 1", file=sys.stderr)
        return 2
    if args.limit is not None and args.limit < 1:
        print("error: --limit must be at least 1", file=sys.stderr)
        return 2
    if not 0.0 < args.min_overlap <= 1.0:
        print("error: --min-overlap is a fraction in (0, 1]", file=sys.stderr)
        return 2
    cfg = EvalConfig(
        url=args.url,
        data=args.data,
        dataset=args.dataset,
        split=args.split,
        protocol=args.protocol,
        concurrency=args.concurrency,
        limit=args.limit,
        min_cover=args.min_overlap,
        strict=args.strict,
        timeout_s=args.timeout,
        progress=not args.no_progress,
        linker=args.linker,
    )
    try:
        run_ = evaluate(cfg)
    except (EvaluationError, ClientError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = run_.report
    warning = label_mismatch(report)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    for err in report["errors"][:10]:
        print(f"failed page {err['id']}: {err['error']}", file=sys.stderr)
    if args.per_page:
        print(format_per_page(report))
        print()
    print(format_table(report))
    for line in pair_lines(report):  # FUNSD layout only: pair_f1_given_entities=, pair_f1=
        print(line)
    if args.output:
        print(f"report: {write_report(report, args.output)}")
    sys.stdout.flush()
    print(f1_line(report), flush=True)
    return 1 if run_.failed else 0
