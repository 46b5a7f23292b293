"""Train the learned question -> answer scorers of serving/linking.py: on synthetic pages, or
on your own labelled forms in FUNSD's layout (annotations/*.json with ``linking``).

The synthetic generator does not record which answer belongs to which question, but its
pages say it unambiguously through word order, labels and lines (synth/content.py and
synth/layout.py): a block writes each question and then its answer(s) (key/value rows,
check boxes), or a table's header row of questions followed by rows of answers, one per
column.  :func:`derive_links` reads the links back that way:

- a run of question entities followed by a run of answer entities (no header or
  unlabelled word in between) forms a group;
- when the last question shares its line with other questions of the run (a header row)
  and the run has at least two answers, it is a table: each answer goes to the header
  whose column overlaps it most (none: a column without a header keeps its answers unlinked);
- otherwise every answer of the run goes to the run's last question (a blank field's
  question keeps no answer).

Checked against the links a newer generator records itself (``SynthPage.links``): the
same 4,191 pairs on 200 pages (seed 5, noise 0.3).

Training: every (question, answer) pair of a page is one example (label 1 when linked),
described by :data:`serving.linking.FEATURES`; a logistic regression with L2 penalty is
fitted by Newton's method in numpy, or gradient-boosted trees by scikit-learn (a dev
dependency: serving reads the trees from JSON with numpy), and written as ``linker.json``.

    python -m layoutlmv3_triton.training.linker_data --pages 400 --seed 11 --out linker.json
    python -m layoutlmv3_triton.training.linker_data --forms my-forms/ --model boosted --out linker.json
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence

import numpy as np

from layoutlmv3_triton.serving.decoding import group_entities, union_box
from layoutlmv3_triton.serving.linking import (
    ANSWER,
    FEATURES,
    QUESTION,
    BoostedLinker,
    LogisticLinker,
    entity_arrays,
    pair_features,
    save_linker,
    text_height,
)

# Features of the learned scorer: all but the entity order, which follows the OCR's (or an
# annotator's) reading order and says little about layout.
LEARNED_FEATURES = tuple(f for f in FEATURES if f not in ("bias", "question_first"))


def page_entities(words: Sequence[str], boxes: Sequence[Sequence[float]], tags: Sequence[str]) -> list[dict]:
    """Result-format entities (label, box, text, words) from word tags."""
    return [
        {
            "label": e.label,
            "box": union_box([boxes[i] for i in e.words]),
            "text": " ".join(words[i] for i in e.words),
            "words": e.words,
        }
        for e in group_entities(tags)
    ]


def _same_line(a: Sequence[float], b: Sequence[float]) -> bool:
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    return overlap >= 0.5 * min(a[3] - a[1], b[3] - b[1])


def derive_links(entities: Sequence[dict]) -> set[tuple[int, int]]:
    """(question, answer) entity index pairs of a synthetic page (the rules in the module doc)."""
    links: set[tuple[int, int]] = set()
    questions: list[int] = []
    answers: list[int] = []
    last_word = -2

    def close() -> None:
        if questions and answers:
            last = entities[questions[-1]]["box"]
            header = [q for q in questions if _same_line(entities[q]["box"], last)]
            if len(header) >= 2 and len(answers) >= 2:
                for a in answers:
                    box = entities[a]["box"]
                    overlap = [min(box[2], entities[q]["box"][2]) - max(box[0], entities[q]["box"][0]) for q in header]
                    if max(overlap) > 0:
                        links.add((header[int(np.argmax(overlap))], a))
            else:
                links.update((questions[-1], a) for a in answers)

    for i, entity in enumerate(entities):
        contiguous = entity["words"][0] == last_word + 1
        last_word = entity["words"][-1]
        label = entity["label"]
        if label == QUESTION and (not answers and contiguous):
            questions.append(i)
        elif label == ANSWER and questions and contiguous:
            answers.append(i)
        else:
            close()
            questions, answers = ([i], []) if label == QUESTION else ([], [])
    close()
    return links


def examples(
    entities: Sequence[dict], word_boxes: Sequence[Sequence[float]], links: set[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) of every question x answer pair of a page."""
    boxes, qs, ans, texts = entity_arrays(entities)
    if not len(qs) or not len(ans):
        return np.zeros((0, len(LEARNED_FEATURES))), np.zeros(0)
    f = pair_features(boxes, texts, qs, ans, text_height(np.asarray(word_boxes, float).reshape(-1, 4)))
    x = np.stack([f[name].ravel() for name in LEARNED_FEATURES], axis=1)
    y = np.array([(int(q), int(a)) in links for q in qs for a in ans], dtype=float)
    return x, y


def synthetic_examples(n_pages: int, seed: int, noise: float = 0.3, progress: bool = False):
    """Stacked (features, labels) from ``n_pages`` synthetic pages of run ``seed``."""
    from layoutlmv3_triton.synth.dataset import generate

    pages: Iterable = generate(n_pages, seed, noise=noise)
    if progress:
        from tqdm.auto import tqdm

        pages = tqdm(pages, total=n_pages, desc="linker pages", unit="page")
    xs, ys = [], []
    for page in pages:
        entities = page_entities(page.words, page.boxes, page.labels)
        x, y = examples(entities, page.boxes, derive_links(entities))
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def form_examples(pages: Iterable) -> tuple[np.ndarray, np.ndarray]:
    """Stacked (features, labels) from FUNSD-layout pages (datasets/funsd_layout.py), gold from ``linking``."""
    from layoutlmv3_triton.datasets.pairs import gold_entities, gold_pairs

    xs, ys = [], []
    for page in pages:
        entities, index = gold_entities(page)
        position = {j: i for i, j in enumerate(index)}
        x, y = examples(entities, page.boxes, {(position[q], position[a]) for q, a in gold_pairs(page)})
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def fit_boosted(
    x: np.ndarray,
    y: np.ndarray,
    trees: int = 300,
    depth: int = 3,
    rate: float = 0.1,
    min_score: float = 0.1,
    trained_on: str = "",
) -> BoostedLinker:
    """Gradient-boosted trees (scikit-learn, log loss) exported as a :class:`BoostedLinker`."""
    from sklearn.ensemble import GradientBoostingClassifier

    model = GradientBoostingClassifier(n_estimators=trees, max_depth=depth, learning_rate=rate, random_state=0)
    model.fit(x, y)
    exported = []
    for (estimator,) in model.estimators_:
        t = estimator.tree_
        exported.append(
            {
                "feature": [int(v) for v in t.feature],
                "threshold": [float(v) for v in t.threshold],
                "left": [int(v) for v in t.children_left],
                "right": [int(v) for v in t.children_right],
                "value": [float(v) for v in t.value.reshape(-1)],
            }
        )
    init = float(model._raw_predict_init(x[:1]).ravel()[0])
    return BoostedLinker(list(LEARNED_FEATURES), exported, init, rate, min_score, trained_on=trained_on)


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 30, trained_on: str = ""
) -> LogisticLinker:
    """Logistic regression (bias + standardised features, L2 on the weights) by Newton's method."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(z @ w, -50, 50)))
        grad = z.T @ (p - y) + penalty * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    weights = {"bias": float(w[0]), **{name: float(v) for name, v in zip(LEARNED_FEATURES, w[1:])}}
    return LogisticLinker(
        weights,
        {n: float(m) for n, m in zip(LEARNED_FEATURES, mean)},
        {n: float(s) for n, s in zip(LEARNED_FEATURES, scale)},
        trained_on=trained_on,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=400, help="synthetic pages to learn from (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=11, help="synthetic run seed (default: %(default)s)")
    parser.add_argument("--noise", type=float, default=0.3, help="share of scan-like pages (default: %(default)s)")
    parser.add_argument(
        "--forms", metavar="DIR", help="learn from labelled forms in FUNSD's layout (annotations/ + images/) instead"
    )
    parser.add_argument(
        "--model",
        choices=("logistic", "boosted"),
        default="logistic",
        help="logistic regression (numpy) or gradient-boosted trees (needs scikit-learn)",
    )
    parser.add_argument("--l2", type=float, default=1.0, help="logistic: L2 penalty (default: %(default)s)")
    parser.add_argument("--min-score", type=float, help="lowest score that links (default: 0.5 logistic, 0.1 boosted)")
    parser.add_argument("--out", required=True, help="linker.json to write")
    args = parser.parse_args(argv)
    if args.forms:
        from layoutlmv3_triton.datasets.funsd_layout import read_pages

        x, y = form_examples(read_pages(args.forms))
        source = f"forms in {args.forms}"
    else:
        x, y = synthetic_examples(args.pages, args.seed, args.noise, progress=True)
        source = f"synthetic pages: {args.pages}, seed {args.seed}, noise {args.noise}"
    if args.model == "boosted":
        linker = fit_boosted(x, y, trained_on=source)
    else:
        linker = fit_logistic(x, y, args.l2, trained_on=source)
    if args.min_score is not None:
        linker.min_score = args.min_score
    print(f"{len(y)} pairs ({int(y.sum())} linked) -> {save_linker(linker, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
