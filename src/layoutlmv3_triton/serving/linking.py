"""Question -> answer links between the entities of one page, from their boxes.

LayoutLMv3 has no relation head, so the link is drawn from layout, the way a reader
finds the answer to a printed question: on the same line to its right, directly below
it, or (in a table) further down the column of a header, with no other question in
between.  Distances are measured in text heights (the page's median word height), so
the rules do not depend on the scan's resolution.

Three linkers share the features and the decoding; a model repository picks one with
``linker.json`` beside the postprocess step's ``config.json``:

- :class:`GeometricLinker`: hand-set rules with the thresholds in :data:`GEOMETRY`
  (documented in docs/result-format.md); the default when there is no ``linker.json``.
- :class:`LogisticLinker`: a logistic pair scorer on the same features, its weights
  plain JSON.
- :class:`BoostedLinker`: gradient-boosted trees on the same features, trees stored as
  plain JSON arrays and evaluated in numpy (trained with scikit-learn, which serving
  never imports).

Decoding: each answer is linked to the question that scores best for it (if the score
clears the linker's threshold), so a question may get several answers, or none.  Only
numpy and the standard library are imported: this runs inside the postprocess step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from layoutlmv3_triton.errors import LayoutLMv3TritonError

QUESTION, ANSWER = "QUESTION", "ANSWER"
LINKER_FILE = "linker.json"  # in the postprocess step's version folder, beside config.json

# Thresholds of the geometric linker, in text heights (h) unless said otherwise.  The first
# values were set by hand; five of them were then tuned on 100 of the 149 FUNSD training
# forms (docs/result-format.md has the figures, before and after, on the other 49).
GEOMETRY = {
    "min_line_overlap": 0.2,  # same line: vertical overlap / the shorter box's height (hand-set 0.3)
    "max_right_gap": 25.0,  # same line: the answer starts at most this far right of the question's end
    "max_below_gap": 5.0,  # directly below: the gap from the question's bottom to the answer's top (hand-set 3)
    "max_indent": 8.0,  # directly below, no horizontal overlap: left edges at most this far apart (hand-set 3)
    "overlap_slack": 2.0,  # boxes may overlap this much and still count as right of / below (hand-set 0.5)
    "min_score": 0.0,  # links scoring below this are dropped (score = exp(-cost / 10))
}

FEATURES = (
    "bias",
    "gap_x",
    "gap_y",
    "line_overlap",
    "column_overlap",
    "left_offset",
    "center_dx",
    "center_dy",
    "questions_between",
    "answers_between",
    "right_of",
    "below",
    "in_column",
    "question_first",
    "colon",
    "nearest_for_answer",
    "geometric_score",
)


class LinkerError(LayoutLMv3TritonError):
    """A linker file cannot be read or does not fit this code."""


@dataclass(frozen=True)
class Pair:
    question: int  # index into the page's entities
    answer: int
    score: float

    def as_dict(self) -> dict:
        return {"question": self.question, "answer": self.answer, "score": round(float(self.score), 6)}


def text_height(boxes: np.ndarray) -> float:
    """The median height of ``boxes`` (word boxes, or entity boxes when no words are given)."""
    heights = boxes[:, 3] - boxes[:, 1] if len(boxes) else np.zeros(0)
    heights = heights[heights > 0]
    return float(np.median(heights)) if len(heights) else 10.0


def _overlap(a0, a1, b0, b1) -> np.ndarray:
    """Length of the overlap of [a0, a1] and [b0, b1] over the shorter of the two (1: one inside the other)."""
    inter = np.minimum(a1, b1) - np.maximum(a0, b0)
    return inter / np.maximum(np.minimum(a1 - a0, b1 - b0), 1.0)


def pair_features(
    boxes: np.ndarray, texts: Sequence[str], questions: np.ndarray, answers: np.ndarray, height: float
) -> dict[str, np.ndarray]:
    """Every feature of :data:`FEATURES` as a ``(questions, answers)`` array (distances in text heights)."""
    q = boxes[questions][:, None, :]
    a = boxes[answers][None, :, :]
    h = max(height, 1.0)
    f: dict[str, np.ndarray] = {}
    shape = (len(questions), len(answers))
    f["bias"] = np.ones(shape)
    f["gap_x"] = (a[..., 0] - q[..., 2]) / h
    f["gap_y"] = (a[..., 1] - q[..., 3]) / h
    f["line_overlap"] = _overlap(q[..., 1], q[..., 3], a[..., 1], a[..., 3])
    f["column_overlap"] = _overlap(q[..., 0], q[..., 2], a[..., 0], a[..., 2])
    f["left_offset"] = (a[..., 0] - q[..., 0]) / h
    f["center_dx"] = ((a[..., 0] + a[..., 2]) - (q[..., 0] + q[..., 2])) / (2 * h)
    f["center_dy"] = ((a[..., 1] + a[..., 3]) - (q[..., 1] + q[..., 3])) / (2 * h)
    # entities whose centre lies inside the box spanning the question and the answer
    span = np.concatenate([np.minimum(q[..., :2], a[..., :2]), np.maximum(q[..., 2:], a[..., 2:])], axis=-1)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    inside = (
        (centres[None, None, :, 0] > span[..., 0, None])
        & (centres[None, None, :, 0] < span[..., 2, None])
        & (centres[None, None, :, 1] > span[..., 1, None])
        & (centres[None, None, :, 1] < span[..., 3, None])
    )
    inside[np.arange(len(questions))[:, None], :, questions[:, None]] = False
    inside[:, np.arange(len(answers)), answers] = False
    f["questions_between"] = inside[..., questions].sum(-1).astype(float)
    f["answers_between"] = inside[..., answers].sum(-1).astype(float)
    slack = GEOMETRY["overlap_slack"]
    f["right_of"] = ((f["line_overlap"] >= GEOMETRY["min_line_overlap"]) & (f["gap_x"] >= -slack)).astype(float)
    f["below"] = (f["gap_y"] >= -slack).astype(float)
    f["in_column"] = (f["column_overlap"] > 0).astype(float)
    f["question_first"] = (questions[:, None] < answers[None, :]).astype(float)
    f["colon"] = np.repeat(np.array([[texts[i].rstrip().endswith(":") for i in questions]], float).T, len(answers), 1)
    distance = np.hypot(np.maximum(f["gap_x"], 0), np.maximum(f["gap_y"], 0))
    f["nearest_for_answer"] = (
        (distance == distance.min(axis=0, keepdims=True)).astype(float) if distance.size else np.zeros(shape)
    )
    f["geometric_score"] = np.exp(-geometric_cost(f) / 10)
    return f


def geometric_cost(f: Mapping[str, np.ndarray], g: Mapping[str, float] = GEOMETRY) -> np.ndarray:
    """The rules: same line to the right < directly below < down a table column; ``inf``: no link."""
    free = f["questions_between"] == 0
    below = f["gap_y"] >= -g["overlap_slack"]
    right = (
        (f["line_overlap"] >= g["min_line_overlap"])
        & (f["gap_x"] >= -g["overlap_slack"])
        & (f["gap_x"] <= g["max_right_gap"])
        & free
    )
    near_below = (
        below
        & (f["gap_y"] <= g["max_below_gap"])
        & ((f["in_column"] > 0) | (np.abs(f["left_offset"]) <= g["max_indent"]))
        & free
    )
    column = below & (f["in_column"] > 0) & free
    cost = np.full(f["gap_x"].shape, np.inf)
    cost = np.where(column, 6.0 + 0.1 * f["gap_y"], cost)
    cost = np.where(near_below, 2.0 + np.maximum(f["gap_y"], 0), cost)
    return np.where(right, 0.1 * np.maximum(f["gap_x"], 0), cost)


@dataclass
class GeometricLinker:
    """The rules of :func:`geometric_cost` with thresholds ``geometry`` (default :data:`GEOMETRY`)."""

    geometry: dict[str, float] = field(default_factory=lambda: dict(GEOMETRY))
    kind: str = "geometric"

    @property
    def min_score(self) -> float:
        return self.geometry["min_score"]

    def scores(self, f: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.exp(-geometric_cost(f, self.geometry) / 10)

    def as_json(self) -> dict:
        return {"kind": self.kind, "geometry": dict(self.geometry)}


@dataclass
class LogisticLinker:
    """``score = sigmoid(weights . (features - mean) / scale)``; links need ``score >= min_score``."""

    weights: dict[str, float]
    mean: dict[str, float]
    scale: dict[str, float]
    min_score: float = 0.5
    kind: str = "logistic"
    trained_on: str = ""

    def scores(self, f: Mapping[str, np.ndarray]) -> np.ndarray:
        z = sum(self.weights[k] * (f[k] - self.mean.get(k, 0.0)) / self.scale.get(k, 1.0) for k in self.weights)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "features": list(self.weights),
            "weights": self.weights,
            "mean": self.mean,
            "scale": self.scale,
            "min_score": self.min_score,
            "trained_on": self.trained_on,
        }


@dataclass
class BoostedLinker:
    """``score = sigmoid(init + rate * sum of the trees' leaf values)``; links need ``score >= min_score``.

    Each tree is ``{"feature", "threshold", "left", "right", "value"}``: parallel node arrays
    (scikit-learn's layout; ``left == -1`` marks a leaf; ``x[feature] <= threshold`` goes left).
    """

    features: list[str]
    trees: list[dict[str, list]]
    init: float
    rate: float
    min_score: float = 0.5
    kind: str = "boosted"
    trained_on: str = ""

    def scores(self, f: Mapping[str, np.ndarray]) -> np.ndarray:
        shape = f["gap_x"].shape
        x = np.stack([np.asarray(f[name], float).ravel() for name in self.features], axis=1)
        feature, threshold, left, right, value = self._arrays()
        trees = np.arange(len(feature))[:, None]
        node = np.zeros((len(feature), len(x)), dtype=np.int64)  # every tree walks every pair at once
        for _ in range(feature.shape[1]):
            inner = left[trees, node] >= 0
            if not inner.any():
                break
            go_left = x[np.arange(len(x))[None, :], np.maximum(feature[trees, node], 0)] <= threshold[trees, node]
            node = np.where(inner, np.where(go_left, left[trees, node], right[trees, node]), node)
        raw = self.init + self.rate * value[trees, node].sum(axis=0)
        return (1.0 / (1.0 + np.exp(-np.clip(raw, -50, 50)))).reshape(shape)

    def _arrays(self) -> tuple[np.ndarray, ...]:
        """The trees' node arrays padded to one width (padding nodes are leaves worth 0), built once."""
        if getattr(self, "_padded", None) is None:
            width = max(len(t["feature"]) for t in self.trees)

            def pad(key: str, fill: float, dtype) -> np.ndarray:
                return np.array([list(t[key]) + [fill] * (width - len(t[key])) for t in self.trees], dtype=dtype)

            self._padded = (
                pad("feature", 0, np.int64),
                pad("threshold", 0.0, float),
                pad("left", -1, np.int64),
                pad("right", -1, np.int64),
                pad("value", 0.0, float),
            )
        return self._padded

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "features": self.features,
            "init": self.init,
            "rate": self.rate,
            "min_score": self.min_score,
            "trained_on": self.trained_on,
            "trees": self.trees,
        }


Linker = GeometricLinker | LogisticLinker | BoostedLinker


def linker_from_json(data: Mapping) -> Linker:
    kind = data.get("kind")
    if kind == "geometric":
        unknown = set(data.get("geometry", {})) - set(GEOMETRY)
        if unknown:
            raise LinkerError(f"linker has thresholds this code does not know: {sorted(unknown)}")
        return GeometricLinker({**GEOMETRY, **{k: float(v) for k, v in data.get("geometry", {}).items()}})
    if kind == "logistic":
        unknown = set(data["weights"]) - set(FEATURES)
        if unknown:
            raise LinkerError(f"linker uses features this code does not compute: {sorted(unknown)}")
        return LogisticLinker(
            dict(data["weights"]),
            dict(data.get("mean", {})),
            dict(data.get("scale", {})),
            float(data.get("min_score", 0.5)),
            trained_on=str(data.get("trained_on", "")),
        )
    if kind == "boosted":
        unknown = set(data["features"]) - set(FEATURES)
        if unknown:
            raise LinkerError(f"linker uses features this code does not compute: {sorted(unknown)}")
        return BoostedLinker(
            list(data["features"]),
            list(data["trees"]),
            float(data["init"]),
            float(data["rate"]),
            float(data.get("min_score", 0.5)),
            trained_on=str(data.get("trained_on", "")),
        )
    raise LinkerError(f"unknown linker kind {kind!r}")


def load_linker(path: str | Path) -> Linker:
    """The linker in ``path`` (``linker.json``); the geometric rules when the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return GeometricLinker()
    try:
        return linker_from_json(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise LinkerError(f"cannot read linker {path}: {exc}") from exc


def save_linker(linker: Linker, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(linker.as_json(), indent=2) + "\n")
    return path


def entity_arrays(entities: Sequence[Mapping]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(boxes, question indices, answer indices, texts) of result-format entities."""
    boxes = np.array([e["box"] for e in entities], dtype=np.float64).reshape(-1, 4)
    labels = [str(e["label"]).upper() for e in entities]
    questions = np.array([i for i, label in enumerate(labels) if label == QUESTION], dtype=np.int64)
    answers = np.array([i for i, label in enumerate(labels) if label == ANSWER], dtype=np.int64)
    return boxes, questions, answers, [str(e.get("text", "")) for e in entities]


def link(
    entities: Sequence[Mapping], word_boxes: Sequence[Sequence[float]] | None = None, linker: Linker | None = None
) -> list[Pair]:
    """Question -> answer pairs of one page's entities (``label``, ``box`` in pixels, ``text``).

    ``word_boxes`` (the page's word boxes) give the text height; without them the entities'
    boxes do.  Each answer goes to its best-scoring question, if that score reaches the
    linker's ``min_score``.  Pairs come sorted by question, then answer.
    """
    linker = linker or GeometricLinker()
    boxes, questions, answers, texts = entity_arrays(entities)
    if not len(questions) or not len(answers):
        return []
    words = np.asarray(word_boxes, dtype=np.float64).reshape(-1, 4) if word_boxes is not None else boxes
    scores = linker.scores(pair_features(boxes, texts, questions, answers, text_height(words if len(words) else boxes)))
    best = scores.argmax(axis=0)
    pairs = [
        Pair(int(questions[b]), int(answers[j]), float(scores[b, j]))
        for j, b in enumerate(best)
        if scores[b, j] > 0 and scores[b, j] >= linker.min_score
    ]
    return sorted(pairs, key=lambda p: (p.question, p.answer))


def fields(entities: Sequence[Mapping], pairs: Sequence[Pair]) -> list[dict]:
    """The flat form of ``pairs``: key and value texts with their boxes."""
    return [
        {
            "key": entities[p.question].get("text", ""),
            "value": entities[p.answer].get("text", ""),
            "key_box": list(entities[p.question]["box"]),
            "value_box": list(entities[p.answer]["box"]),
            "score": round(float(p.score), 6),
        }
        for p in pairs
    ]
