"""Compare question -> answer linkers on FUNSD's ground-truth entities (pair_f1_given_entities).

Linkers: the geometric rules (serving/linking.py), a logistic scorer trained on synthetic
pages (training/linker_data.py), and, as a measured experiment only, a logistic scorer
trained on the first ``--train`` FUNSD forms (file-name order) with its L2 penalty and
score threshold picked by 5-fold cross-validation on those forms.  Every linker is
scored on the held-out forms (the rest) and, except the FUNSD-trained one, on all
forms.  Also prints the linker's cost per page (ms, median over the forms).

    python scripts/linker_experiment.py --funsd-dir ../shared/funsd --synthetic-pages 400
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from layoutlmv3_triton.measure.funsd_layout import read_pages
from layoutlmv3_triton.measure.pairs import gold_entities, gold_pairs, link_gold, score_given_entities
from layoutlmv3_triton.serving.linking import GeometricLinker
from layoutlmv3_triton.training.linker_data import examples, fit_logistic, synthetic_examples

L2S = (0.1, 1.0, 10.0)
MIN_SCORES = (0.1, 0.2, 0.35, 0.5)


def funsd_examples(pages):
    xs, ys = [], []
    for page in pages:
        entities, index = gold_entities(page)
        position = {j: i for i, j in enumerate(index)}
        x, y = examples(entities, page.boxes, {(position[q], position[a]) for q, a in gold_pairs(page)})
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def cross_validated(pages, folds: int = 5):
    """(l2, min_score) with the best mean F1 over ``folds`` folds of ``pages``."""
    best = None
    for l2 in L2S:
        f1 = {m: [] for m in MIN_SCORES}
        for k in range(folds):
            train = [p for i, p in enumerate(pages) if i % folds != k]
            test = [p for i, p in enumerate(pages) if i % folds == k]
            linker = fit_logistic(*funsd_examples(train), l2)
            for m in MIN_SCORES:
                linker.min_score = m
                f1[m].append(score_given_entities(test, linker)["f1"])
        for m in MIN_SCORES:
            if best is None or np.mean(f1[m]) > best[0]:
                best = (float(np.mean(f1[m])), l2, m)
    return best


def ms_per_page(pages, linker) -> float:
    times = []
    for page in pages:
        start = time.perf_counter()
        link_gold(page, linker)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


def row(name, linker, pages, held) -> dict:
    out = {"linker": name, "held_out": score_given_entities(held, linker),
           "ms_per_page": round(ms_per_page(pages or held, linker), 3)}
    if pages is not None:
        out["all"] = score_given_entities(pages, linker)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--funsd-dir", default=os.environ.get("FUNSD_DIR"), help="folder holding training_data/")
    parser.add_argument("--train", type=int, default=100, help="FUNSD forms to train/tune on (default: %(default)s)")
    parser.add_argument("--synthetic-pages", type=int, default=400, help="(default: %(default)s)")
    parser.add_argument("--out", help="write the rows as JSON here")
    args = parser.parse_args()
    pages = read_pages(args.funsd_dir, split="training")
    tune, held = pages[:args.train], pages[args.train:]
    rows = [row("geometric", GeometricLinker(), pages, held)]
    synthetic = fit_logistic(*synthetic_examples(args.synthetic_pages, seed=11, progress=True), 1.0)
    rows.append(row(f"logistic, {args.synthetic_pages} synthetic pages", synthetic, pages, held))
    cv_f1, l2, min_score = cross_validated(tune)
    trained = fit_logistic(*funsd_examples(tune), l2)
    trained.min_score = min_score
    funsd_row = row(f"logistic, {len(tune)} FUNSD forms (l2 {l2}, min_score {min_score}, CV F1 {cv_f1:.4f})",
                    trained, None, held)
    funsd_row["ms_per_page"] = round(ms_per_page(pages, trained), 3)
    rows.append(funsd_row)
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
