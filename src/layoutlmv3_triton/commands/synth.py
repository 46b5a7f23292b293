"""Render synthetic FUNSD-style form pages into a Hugging Face dataset folder.

The folder loads with ``datasets.load_from_disk`` and has FUNSD's columns (id, tokens,
bboxes 0..1000, ner_tags, image), so ``layoutlmv3-triton train --data DIR`` and
``evaluate`` read it directly.  Pages are reproducible: page i depends only on
(--seed, i) and the rendering options.  Use different seeds for train and validation.

examples:
  layoutlmv3-triton synth --out data/synth-train --n 600 --seed 1 --noise
  layoutlmv3-triton synth --out data/synth-val --n 100 --seed 2 --noise 0.5 --previews 3
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="dataset folder to write (save_to_disk format)")
    parser.add_argument("--n", type=int, default=100, help="number of pages (default: %(default)s)")
    parser.add_argument(
        "--seed", type=int, default=0, help="run seed; page i derives from (seed, i) (default: %(default)s)"
    )
    parser.add_argument(
        "--noise",
        type=float,
        nargs="?",
        const=1.0,
        default=0.0,
        metavar="P",
        help="make a fraction P of the pages look scanned (skew, ~100 dpi, faded or thick ink, blur, "
        "grain, dust, smudges, binarisation, JPEG); --noise alone means every page (default: none)",
    )
    parser.add_argument(
        "--max-angle",
        type=float,
        default=1.0,
        help="largest rotation in degrees when --noise is on (default: %(default)s)",
    )
    parser.add_argument("--width", type=int, default=1000, help="page width in pixels (default: %(default)s)")
    parser.add_argument("--height", type=int, default=1300, help="page height in pixels (default: %(default)s)")
    parser.add_argument(
        "--previews",
        type=int,
        default=0,
        help="also write this many pages as PNG (plain and with labelled boxes) under OUT/previews",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="render in this many processes (0: one per CPU core, at most 4); same pages either way",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it already exists")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import os
    import shutil
    import sys
    from pathlib import Path

    from layoutlmv3_triton.synth import SynthError, write_dataset

    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        if not args.overwrite:
            print(f"error: {out} exists and is not empty (use --overwrite)", file=sys.stderr)
            return 2
        shutil.rmtree(out)
    if args.n < 1:
        print("error: --n must be at least 1", file=sys.stderr)
        return 2
    workers = args.workers or min(4, os.cpu_count() or 1)
    try:
        write_dataset(
            out,
            args.n,
            args.seed,
            previews=args.previews,
            progress=not args.no_progress,
            workers=workers,
            noise=args.noise,
            width=args.width,
            height=args.height,
            max_angle=args.max_angle,
        )
    except SynthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.n} pages (seed {args.seed}) to {out}")
    return 0
