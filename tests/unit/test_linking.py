"""Question -> answer linking (serving/linking.py), its training data and its pair scores."""

from __future__ import annotations

import json

import numpy as np
import pytest

from layoutlmv3_triton.serving import linking
from layoutlmv3_triton.serving.decoding import page_result
from layoutlmv3_triton.serving.linking import GeometricLinker, LinkerError, link, load_linker, save_linker


def entity(label: str, box, text: str = "x") -> dict:
    return {"label": label, "box": list(box), "text": text, "words": [0]}


def pairs_of(entities, linker=None) -> set[tuple[int, int]]:
    return {(p.question, p.answer) for p in link(entities, None, linker)}


def test_answer_to_the_right_on_the_same_line():
    ents = [
        entity("QUESTION", (10, 10, 60, 22), "Name:"),
        entity("ANSWER", (80, 11, 150, 23), "Ada"),
        entity("QUESTION", (10, 40, 60, 52), "Date:"),
        entity("ANSWER", (80, 40, 150, 52), "1 May"),
    ]
    assert pairs_of(ents) == {(0, 1), (2, 3)}


def test_answer_directly_below_its_question():
    ents = [
        entity("QUESTION", (10, 10, 90, 22), "Address"),
        entity("ANSWER", (12, 30, 260, 42), "1 Main St"),
        entity("QUESTION", (10, 60, 90, 72), "Remarks"),
        entity("ANSWER", (10, 80, 300, 92), "none"),
    ]
    assert pairs_of(ents) == {(0, 1), (2, 3)}


def test_table_cells_go_to_their_column_header():
    ents = [entity("QUESTION", (10, 10, 60, 22), "Item"), entity("QUESTION", (200, 10, 240, 22), "Qty")]
    for row in range(3):
        y = 40 + 30 * row
        ents += [entity("ANSWER", (10, y, 90, y + 12), f"item {row}"), entity("ANSWER", (200, y, 225, y + 12), "3")]
    expected = {(0, 2), (1, 3), (0, 4), (1, 5), (0, 6), (1, 7)}
    assert pairs_of(ents) == expected


def test_question_without_answer_gets_no_pair():
    ents = [
        entity("QUESTION", (10, 10, 60, 22), "Signature:"),  # blank field
        entity("QUESTION", (10, 200, 60, 212), "Name:"),
        entity("ANSWER", (80, 200, 150, 212), "Ada"),
        entity("HEADER", (10, 300, 200, 320), "NOTES"),
    ]
    assert pairs_of(ents) == {(1, 2)}


def test_two_answers_for_one_question():
    ents = [
        entity("QUESTION", (10, 10, 50, 22), "Sex:"),
        entity("ANSWER", (70, 10, 110, 22), "Male"),
        entity("ANSWER", (130, 10, 190, 22), "Female"),
    ]
    pairs = link(ents)
    assert {(p.question, p.answer) for p in pairs} == {(0, 1), (0, 2)}
    assert all(0 < p.score <= 1 for p in pairs)


def test_a_question_in_between_blocks_the_link():
    ents = [
        entity("QUESTION", (10, 10, 60, 22), "From:"),
        entity("QUESTION", (100, 10, 140, 22), "To:"),
        entity("ANSWER", (160, 10, 220, 22), "Bob"),
    ]
    assert pairs_of(ents) == {(1, 2)}


def test_no_questions_or_no_answers():
    assert link([]) == []
    assert link([entity("ANSWER", (0, 0, 5, 5))]) == []
    assert link([entity("QUESTION", (0, 0, 5, 5))]) == []


def test_distances_scale_with_text_height():
    small = [entity("QUESTION", (10, 10, 60, 22)), entity("ANSWER", (10, 60, 60, 72))]  # 3.2 heights below
    big = [entity("QUESTION", (20, 20, 120, 44)), entity("ANSWER", (20, 120, 120, 144))]  # same, at 2x
    assert pairs_of(small) == pairs_of(big)


def test_fields_are_the_flat_form():
    ents = [entity("QUESTION", (10, 10, 60, 22), "Name:"), entity("ANSWER", (80, 10, 150, 22), "Ada")]
    (field,) = linking.fields(ents, link(ents))
    assert field["key"] == "Name:" and field["value"] == "Ada"
    assert field["key_box"] == [10, 10, 60, 22] and field["value_box"] == [80, 10, 150, 22]
    assert 0 < field["score"] <= 1


def test_page_result_carries_pairs_and_fields():
    words = ["Name:", "Ada", "Lovelace"]
    boxes = [[10, 10, 60, 22], [80, 10, 110, 22], [115, 10, 170, 22]]
    id2label = ["O", "B-QUESTION", "I-QUESTION", "B-ANSWER", "I-ANSWER"]
    page = page_result(words, boxes, np.array([1, 3, 4]), np.array([0.9, 0.8, 0.7]), id2label, width=200, height=50)
    assert [(p["question"], p["answer"]) for p in page["pairs"]] == [(0, 1)]
    assert page["fields"][0]["key"] == "Name:" and page["fields"][0]["value"] == "Ada Lovelace"
    json.dumps(page)  # plain JSON types only


def test_linker_file_round_trip_and_default(tmp_path):
    assert isinstance(load_linker(tmp_path / "missing.json"), GeometricLinker)
    strict = GeometricLinker({**linking.GEOMETRY, "max_right_gap": 1.0})
    loaded = load_linker(save_linker(strict, tmp_path / "linker.json"))
    ents = [entity("QUESTION", (10, 10, 60, 22)), entity("ANSWER", (200, 10, 260, 22))]  # 11.7 heights right
    assert pairs_of(ents) == {(0, 1)} and pairs_of(ents, loaded) == set()
    (tmp_path / "bad.json").write_text(json.dumps({"kind": "logistic", "weights": {"no_such_feature": 1.0}}))
    with pytest.raises(LinkerError):
        load_linker(tmp_path / "bad.json")


def test_logistic_linker_learns_from_derived_synthetic_links(tmp_path):
    from layoutlmv3_triton.training.linker_data import derive_links, fit_logistic, synthetic_examples

    x, y = synthetic_examples(6, seed=3)
    assert 0 < y.sum() < len(y)
    learned = load_linker(save_linker(fit_logistic(x, y), tmp_path / "linker.json"))
    ents = [entity("QUESTION", (10, 10, 60, 22), "Name:"), entity("ANSWER", (80, 10, 150, 22), "Ada")]
    assert pairs_of(ents, learned) == {(0, 1)}
    # the derivation reads tables by column and leaves a blank field's question unlinked
    table = [
        {**e, "words": [i]}
        for i, e in enumerate(
            [
                entity("QUESTION", (10, 10, 60, 22)),
                entity("QUESTION", (200, 10, 240, 22)),
                entity("ANSWER", (10, 40, 90, 52)),
                entity("ANSWER", (200, 40, 225, 52)),
                entity("ANSWER", (10, 70, 90, 82)),
                entity("ANSWER", (200, 70, 225, 82)),
            ]
        )
    ]
    assert derive_links(table) == {(0, 2), (1, 3), (0, 4), (1, 5)}
    blank = [
        {**e, "words": [i]}
        for i, e in enumerate(
            [
                entity("QUESTION", (10, 10, 60, 22)),
                entity("QUESTION", (200, 10, 240, 22)),
                entity("ANSWER", (260, 10, 300, 22)),
            ]
        )
    ]
    assert derive_links(blank) == {(1, 2)}


def test_boosted_linker_in_numpy_matches_scikit_learn(tmp_path):
    pytest.importorskip("sklearn")
    from sklearn.ensemble import GradientBoostingClassifier

    from layoutlmv3_triton.training.linker_data import LEARNED_FEATURES, fit_boosted, synthetic_examples

    x, y = synthetic_examples(2, seed=5)
    linker = load_linker(save_linker(fit_boosted(x, y, trees=8, depth=2), tmp_path / "linker.json"))
    reference = GradientBoostingClassifier(n_estimators=8, max_depth=2, learning_rate=0.1, random_state=0).fit(x, y)
    features = {name: x[:, i].reshape(-1, 1) for i, name in enumerate(LEARNED_FEATURES)}
    features["gap_x"] = x[:, LEARNED_FEATURES.index("gap_x")].reshape(-1, 1)
    np.testing.assert_allclose(linker.scores(features).ravel(), reference.predict_proba(x)[:, 1], atol=1e-9)
    ents = [entity("QUESTION", (10, 10, 60, 22), "Name:"), entity("ANSWER", (80, 10, 150, 22), "Ada")]
    assert pairs_of(ents, linker) == {(0, 1)}
