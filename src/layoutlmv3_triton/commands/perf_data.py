"""Write real page images as perf_analyzer --input-data JSON for the ensemble.

Each image becomes one request (input `document`, BYTES, one element); perf_analyzer
sends them round-robin.

examples:
  layoutlmv3-triton perf-data samples/ --output reports/perf_data.json
  perf_analyzer -m layoutlmv3_ensemble -i grpc -u 127.0.0.1:8001 \\
      --input-data reports/perf_data.json --concurrency-range 1:8
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("documents", nargs="+", type=Path, metavar="PATH", help="page images or PDFs, or folders of them")
    p.add_argument(
        "--output",
        "-o",
        type=Path,
        default=Path("reports/perf_data.json"),
        help="JSON file to write (default: %(default)s)",
    )
    p.add_argument("--recursive", "-r", action="store_true", help="look into sub-folders of folder arguments")


def run(args: argparse.Namespace) -> int:
    from layoutlmv3_triton.measure.perf_data import PerfDataError, expand, write_input_data

    try:
        documents = expand(args.documents, recursive=args.recursive)
        out = write_input_data(documents, args.output)
    except (PerfDataError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(documents)} request(s) to {out}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m layoutlmv3_triton.commands.perf_data``: the same without the full CLI."""
    parser = argparse.ArgumentParser(
        prog="perf-data", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
