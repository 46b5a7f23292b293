#!/usr/bin/env python3
"""Time the PDF text layer against OCR on the same page (median of --repeat runs).

The page is a synthetic form written as a born-digital PDF (text layer) and as a
scanned PDF (the same page rendered to an image); both go through the preprocess
step's document loader, the scanned one through Tesseract as well.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from pages import image_pdf, text_pdf  # noqa: E402

from layoutlmv3_triton.serving.ocr import TesseractEngine  # noqa: E402
from layoutlmv3_triton.serving.pdf import load_pdf  # noqa: E402
from layoutlmv3_triton.synth import render_page  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=910001)
    args = parser.parse_args()
    page = render_page(args.seed)
    born_digital = text_pdf([[" ".join(page.words[i : i + 10]) for i in range(0, len(page.words), 10)]])
    scanned = image_pdf(load_pdf(born_digital)[0].image)
    engine = TesseractEngine()

    def text_layer() -> int:
        return len(load_pdf(born_digital)[0].words)

    def ocr() -> int:
        return len(engine.read(load_pdf(scanned)[0].image))

    timings = {}
    for name, fn in (("text layer", text_layer), ("scanned + OCR", ocr)):
        runs = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            words = fn()
            runs.append(time.perf_counter() - start)
        timings[name] = statistics.median(runs)
        print(f"{name:>14}: {timings[name] * 1000:7.1f} ms per page ({words} words)")
    print(f"text layer is {timings['scanned + OCR'] / timings['text layer']:.1f}x faster than OCR on the same page")
    return 0


if __name__ == "__main__":
    sys.exit(main())
