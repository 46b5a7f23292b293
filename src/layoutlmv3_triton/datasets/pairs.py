"""Score question -> answer pairs against FUNSD's ``linking`` (docs/evaluation.md, "Pairs").

Two measures:

- ``pair_f1_given_entities``: the linker alone, on the ground-truth entities of each page
  (their labels, pixel boxes and texts, the page's word boxes), through
  :func:`layoutlmv3_triton.serving.linking.link`, the function the postprocess step runs.
- ``pair_f1``: end to end, from the server's result (its own entities and ``pairs``): a
  predicted pair counts as correct when its question entity matches the gold question
  and its answer entity matches the gold answer (the entity matching rule below).

Gold pairs are the distinct (question, answer) pairs of ``linking`` whose two entities
are a question and an answer with at least one word each (either direction in the file).
Entity matching for ``pair_f1``: the server's words are matched to the ground-truth
words as for entity F1 (:func:`measure.evaluation.match_words`); a predicted entity
matches the gold entity that holds the majority of its matched words, provided those
words are also at least half of that gold entity's words.  Every served pair counts as
predicted; one whose question or answer matches no gold entity is wrong.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from layoutlmv3_triton.datasets.funsd_layout import Page
from layoutlmv3_triton.datasets.scoring import prf
from layoutlmv3_triton.serving.linking import Linker, link

PairKey = tuple[int, int]  # (question, answer): gold entity indices of a page


def gold_pairs(page: Page) -> set[PairKey]:
    """(question, answer) index pairs (into ``page.entities``) from the page's ``linking``."""
    by_id = {e.id: i for i, e in enumerate(page.entities)}
    out: set[PairKey] = set()
    for a, b in page.linking:
        if a not in by_id or b not in by_id:
            continue
        i, j = by_id[a], by_id[b]
        ei, ej = page.entities[i], page.entities[j]
        if not ei.words or not ej.words:
            continue
        if (ei.label, ej.label) == ("question", "answer"):
            out.add((i, j))
        elif (ei.label, ej.label) == ("answer", "question"):
            out.add((j, i))
    return out


def gold_entities(page: Page) -> tuple[list[dict], list[int]]:
    """Result-format entities (``label`` upper case, pixel ``box``, ``text``) of the page's
    entities with words, and for each the index into ``page.entities``."""
    entities, index = [], []
    for i, e in enumerate(page.entities):
        if e.words:
            entities.append({"label": e.label.upper(), "box": list(e.box), "text": e.text, "words": list(e.words)})
            index.append(i)
    return entities, index


def link_gold(page: Page, linker: Linker | None = None) -> set[PairKey]:
    """The linker's pairs on the page's ground-truth entities, as gold entity indices."""
    entities, index = gold_entities(page)
    return {(index[p.question], index[p.answer]) for p in link(entities, page.boxes, linker)}


@dataclass
class PairCounts:
    correct: int = 0
    predicted: int = 0
    gold: int = 0

    def add(self, predicted: set[PairKey], gold: set[PairKey]) -> None:
        self.correct += len(predicted & gold)
        self.predicted += len(predicted)
        self.gold += len(gold)

    def as_dict(self) -> dict:
        return prf(self.correct, self.predicted, self.gold)


def score_given_entities(pages: Iterable[Page], linker: Linker | None = None) -> dict:
    """P/R/F1 of the linker on the ground-truth entities of ``pages``."""
    counts = PairCounts()
    for page in pages:
        counts.add(link_gold(page, linker), gold_pairs(page))
    return counts.as_dict()


def match_entities(
    assignment: Sequence[int], predicted: Sequence[dict], entity_of_word: Sequence[int], gold_sizes: Sequence[int]
) -> list[int]:
    """For each predicted entity, the gold entity it matches, or -1 (the rule in the module doc).

    ``assignment``: for each server word, its ground-truth word or -1;
    ``entity_of_word``: for each ground-truth word, its gold entity.
    """
    out = []
    for entity in predicted:
        votes = Counter(
            entity_of_word[assignment[w]]
            for w in entity.get("words", [])
            if 0 <= w < len(assignment) and assignment[w] >= 0
        )
        if not votes:
            out.append(-1)
            continue
        gold, n = votes.most_common(1)[0]
        out.append(gold if 2 * n > sum(votes.values()) and 2 * n >= gold_sizes[gold] else -1)
    return out


def predicted_pairs(result_page: dict, assignment: Sequence[int], page: Page) -> set[PairKey]:
    """The server's pairs of one page as gold entity index pairs (unmatched entities dropped)."""
    matched = match_entities(
        assignment, result_page.get("entities", []), page.entity_of_word, [len(e.words) for e in page.entities]
    )
    out = set()
    for pair in result_page.get("pairs", []):
        q, a = matched[pair["question"]], matched[pair["answer"]]
        if q >= 0 and a >= 0:
            out.add((q, a))
    return out


def served_counts(page: Page, result: dict | None, assignment: Sequence[int]) -> PairCounts:
    """End-to-end pair counts of one page from the server's first result page (None: failed)."""
    gold = gold_pairs(page)
    pages = (result or {}).get("pages") or []
    if not pages:
        return PairCounts(0, 0, len(gold))
    # every served pair counts as predicted; one whose entities match no gold entity is wrong
    return PairCounts(
        len(predicted_pairs(pages[0], assignment, page) & gold), len(pages[0].get("pairs", [])), len(gold)
    )


def pair_report(pages: Sequence[Page], served: Sequence[PairCounts | None], linker: Linker | None = None) -> dict:
    """The report's ``pairs`` section: given entities (the linker on ``pages``) and end to end."""
    total = PairCounts()
    for counts in served:
        if counts is not None:
            total.correct += counts.correct
            total.predicted += counts.predicted
            total.gold += counts.gold
    return {
        "given_entities": score_given_entities(pages, linker),
        "end_to_end": total.as_dict(),
        "linker": (linker.as_json() if linker is not None else {"kind": "geometric"}),
        "rule": MATCHING_RULE,
    }


def pair_lines(report: dict) -> list[str]:
    """``pair_f1_given_entities=`` and ``pair_f1=`` lines, when the report scored pairs."""
    pairs = report.get("pairs")
    if not pairs:
        return []
    given, served = pairs["given_entities"], pairs["end_to_end"]
    return [
        f"pairs: given entities P {given['precision']:.4f} R {given['recall']:.4f} ({given['gold']} gold); "
        f"end to end P {served['precision']:.4f} R {served['recall']:.4f}",
        f"pair_f1_given_entities={given['f1']:.4f}",
        f"pair_f1={served['f1']:.4f}",
    ]


MATCHING_RULE = (
    "gold pairs: distinct question/answer pairs of FUNSD linking whose entities have words; a served pair is "
    "correct when its question and answer entities match the gold ones: a served entity matches the gold entity "
    "holding the majority of its matched words, if those are at least half of the gold entity's words; every "
    "served pair counts as predicted"
)
