"""Compare question -> answer linkers on FUNSD's ground-truth entities (pair_f1_given_entities).

Linkers: the geometric rules (serving/linking.py), logistic and boosted-tree scorers
trained on synthetic pages (training/linker_data.py), and, as measured experiments only,
both scorers trained on the first ``--train`` FUNSD forms (file-name order) with the
logistic L2 penalty and each score threshold picked by 5-fold cross-validation on those forms.  Every linker is
scored on the held-out forms (the rest) and, except the FUNSD-trained one, on all
forms.  Also prints the linker's cost per page (ms, median over the forms).

``--ocr`` adds what OCR leaves of the geometric linker: Tesseract (the serving defaults)
reads each form, its words take the ground-truth tags of the words they match
(evaluate's rule), and the pairs linked on those entities are scored end to end as
``evaluate`` scores the server's (a perfect tagger on real OCR: the ceiling of ``pair_f1``).

    python scripts/linker_experiment.py --funsd-dir ../shared/funsd --synthetic-pages 400
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from layoutlmv3_triton.datasets.funsd_layout import read_pages
from layoutlmv3_triton.datasets.pairs import link_gold, score_given_entities
from layoutlmv3_triton.serving.linking import GeometricLinker
from layoutlmv3_triton.training.linker_data import fit_boosted, fit_logistic, form_examples, synthetic_examples

L2S = (0.1, 1.0, 10.0)
MIN_SCORES = (0.1, 0.2, 0.35, 0.5)


def cross_validated(pages, fit, settings, folds: int = 5):
    """(mean F1, setting, min_score) with the best mean F1 over ``folds`` folds of ``pages``."""
    best = None
    for setting in settings:
        f1 = {m: [] for m in MIN_SCORES}
        for k in range(folds):
            train = [p for i, p in enumerate(pages) if i % folds != k]
            test = [p for i, p in enumerate(pages) if i % folds == k]
            linker = fit(*form_examples(train), setting)
            for m in MIN_SCORES:
                linker.min_score = m
                f1[m].append(score_given_entities(test, linker)["f1"])
        for m in MIN_SCORES:
            if best is None or np.mean(f1[m]) > best[0]:
                best = (float(np.mean(f1[m])), setting, m)
    return best


def ms_per_page(pages, linker) -> float:
    times = []
    for page in pages:
        start = time.perf_counter()
        link_gold(page, linker)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


def oracle_ocr(pages) -> list:
    """Per page, pair counts of the geometric linker on ground-truth tags carried over to Tesseract's words."""
    from PIL import Image

    from layoutlmv3_triton.datasets.matching import match_words
    from layoutlmv3_triton.datasets.pairs import served_counts
    from layoutlmv3_triton.serving.decoding import group_entities, union_box
    from layoutlmv3_triton.serving.linking import link
    from layoutlmv3_triton.serving.ocr import TesseractEngine

    out = []
    with TesseractEngine() as engine:
        for page in pages:
            with Image.open(page.image_path) as image:
                words = engine.read(image.convert("RGB"))
            boxes = [list(w.box) for w in words]
            assignment = match_words(boxes, np.asarray(page.boxes, float))
            tags, previous = [], None
            for j in assignment:
                entity = page.entity_of_word[j] if j >= 0 and page.tags[j] != "O" else None
                tags.append("O" if entity is None else ("I-" if entity == previous else "B-") + page.tags[j][2:])
                previous = entity
            entities = [
                {
                    "label": e.label,
                    "box": union_box([boxes[i] for i in e.words]),
                    "words": e.words,
                    "text": " ".join(words[i].text for i in e.words),
                }
                for e in group_entities(tags)
            ]
            result = {"pages": [{"entities": entities, "pairs": [p.as_dict() for p in link(entities, boxes)]}]}
            out.append(served_counts(page, result, assignment))
    return out


def summed(counts) -> dict:
    from layoutlmv3_triton.datasets.pairs import PairCounts

    return PairCounts(
        sum(c.correct for c in counts), sum(c.predicted for c in counts), sum(c.gold for c in counts)
    ).as_dict()


def row(name, linker, pages, held) -> dict:
    out = {
        "linker": name,
        "held_out": score_given_entities(held, linker),
        "ms_per_page": round(ms_per_page(pages or held, linker), 3),
    }
    if pages is not None:
        out["all"] = score_given_entities(pages, linker)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--funsd-dir", default=os.environ.get("FUNSD_DIR"), help="folder holding training_data/")
    parser.add_argument("--train", type=int, default=100, help="FUNSD forms to train/tune on (default: %(default)s)")
    parser.add_argument("--synthetic-pages", type=int, default=400, help="(default: %(default)s)")
    parser.add_argument("--ocr", action="store_true", help="also: ground-truth tags on Tesseract's words (slow)")
    parser.add_argument("--out", help="write the rows as JSON here")
    args = parser.parse_args()
    pages = read_pages(args.funsd_dir, split="training")
    tune, held = pages[: args.train], pages[args.train :]
    rows = [row("geometric", GeometricLinker(), pages, held)]
    if args.ocr:
        counts = oracle_ocr(pages)
        rows.append(
            {
                "linker": "geometric, gold tags on Tesseract words (end to end, perfect tagger)",
                "all": summed(counts),
                "held_out": summed(counts[args.train :]),
                "ms_per_page": float("nan"),
            }
        )
    x, y = synthetic_examples(args.synthetic_pages, seed=11, progress=True)
    rows.append(row(f"logistic, {args.synthetic_pages} synthetic pages", fit_logistic(x, y, 1.0), pages, held))
    rows.append(row(f"boosted, {args.synthetic_pages} synthetic pages", fit_boosted(x, y, min_score=0.5), pages, held))
    fits = {
        "logistic": (lambda x, y, l2: fit_logistic(x, y, l2), L2S),
        "boosted": (lambda x, y, _: fit_boosted(x, y), (None,)),
    }
    for name, (fit, settings) in fits.items():
        cv_f1, setting, min_score = cross_validated(tune, fit, settings)
        trained = fit(*form_examples(tune), setting)
        trained.min_score = min_score
        rows.append(
            row(
                f"{name}, {len(tune)} FUNSD forms ({setting}, min_score {min_score}, CV F1 {cv_f1:.4f})",
                trained,
                None,
                held,
            )
        )
    print(f"{'linker':<70} {'all P/R/F1':>22} {'held-out P/R/F1':>22} {'ms/page':>8}")
    for r in rows:

        def prf(s):
            return f"{s['precision']:.3f}/{s['recall']:.3f}/{s['f1']:.4f}" if s else "-"

        print(f"{r['linker']:<70} {prf(r.get('all')):>22} {prf(r['held_out']):>22} {r['ms_per_page']:>8.2f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
