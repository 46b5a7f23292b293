"""Entity-level precision, recall and F1: FUNSD's official metric (seqeval's entities
over each word's first sub-token tag), shared by training's validation and ``evaluate``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _entities(seqs: Sequence[Sequence[str]], strict: bool) -> set[tuple[int, str, int, int]]:
    """(page, type, first word, last word) of every entity, extracted by seqeval."""
    out: set[tuple[int, str, int, int]] = set()
    if strict:
        from seqeval.scheme import IOB2, Entities

        for page, ents in enumerate(Entities([list(s) for s in seqs], IOB2).entities):
            out.update((page, e.tag, e.start, e.end - 1) for e in ents)
        return out
    from seqeval.metrics.sequence_labeling import get_entities

    for page, seq in enumerate(seqs):
        out.update((page, kind, start, end) for kind, start, end in get_entities(list(seq)))
    return out


def prf(correct: int, predicted: int, gold: int) -> dict[str, float | int]:
    p = correct / predicted if predicted else 0.0
    r = correct / gold if gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "gold": gold, "predicted": predicted, "correct": correct}


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], strict: bool = False) -> dict:
    """Micro-averaged and per-label entity P/R/F1 (seqeval's entities; 0 where undefined).

    Returns ``{"overall": {...}, "per_label": {label: {...}}, "macro_f1": float}``; every
    score dict has precision, recall, f1, gold, predicted and correct.
    """
    if len(gold) != len(pred) or any(len(g) != len(p) for g, p in zip(gold, pred)):
        raise ValueError("gold and predicted sequences must have the same lengths")
    g, p = _entities(gold, strict), _entities(pred, strict)
    labels = sorted({e[1] for e in g} | {e[1] for e in p})
    per_label = {}
    for label in labels:
        gl = {e for e in g if e[1] == label}
        pl = {e for e in p if e[1] == label}
        per_label[label] = prf(len(gl & pl), len(pl), len(gl))
    with_gold = [s["f1"] for s in per_label.values() if s["gold"]]
    return {
        "overall": prf(len(g & p), len(p), len(g)),
        "per_label": per_label,
        "macro_f1": float(np.mean(with_gold)) if with_gold else 0.0,
    }
