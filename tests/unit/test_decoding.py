import numpy as np

from layoutlmv3_triton.contract import split_tag
from layoutlmv3_triton.serving.decoding import group_entities, page_result, word_predictions
from layoutlmv3_triton.serving.labels import load_id2label

LABELS = ["O", "B-HEADER", "I-HEADER", "B-QUESTION", "I-QUESTION", "B-ANSWER", "I-ANSWER"]


def one_hot(ids, n=len(LABELS), hot=5.0):
    logits = np.zeros((len(ids), n), dtype=np.float32)
    for row, i in enumerate(ids):
        logits[row, i] = hot
    return logits


def test_first_subtoken_decides():
    # tokens: CLS, w0, w0, w1, SEP, pad
    word_ids = np.array([-1, 0, 0, 1, -1, -1])
    logits = one_hot([0, 3, 4, 5, 0, 0])
    labels, scores = word_predictions(logits, word_ids, 2)
    assert labels.tolist() == [3, 5]
    assert np.allclose(scores, np.exp(5) / (np.exp(5) + 6))


def test_truncated_word_has_no_label():
    labels, scores = word_predictions(one_hot([0, 1, 0]), np.array([-1, 0, -1]), 2)
    assert labels.tolist() == [1, -1] and np.isnan(scores[1])


def test_bio_grouping_edge_cases():
    tags = ["B-QUESTION", "I-QUESTION", "O", "I-ANSWER", "I-ANSWER", "B-ANSWER", "I-QUESTION", "B-HEADER"]
    entities = [(e.label, e.words) for e in group_entities(tags)]
    assert entities == [("QUESTION", [0, 1]), ("ANSWER", [3, 4]), ("ANSWER", [5]), ("QUESTION", [6]), ("HEADER", [7])]
    assert group_entities([]) == [] and group_entities(["O", None]) == []


def test_non_bio_label_sets():
    assert split_tag("MENU.NM") == ("B", "MENU.NM") and split_tag("S-TOTAL") == ("S", "TOTAL")
    assert [(e.label, e.words) for e in group_entities(["MENU.NM", "MENU.NM", "O", "TOTAL"])] == [
        ("MENU.NM", [0]),
        ("MENU.NM", [1]),
        ("TOTAL", [3]),
    ]


def test_page_result_boxes_and_scores():
    words = ["Name:", "John", "Smith"]
    boxes = [[10, 10, 60, 30], [70, 12, 110, 31], [115, 9, 170, 30]]
    result = page_result(words, boxes, np.array([3, 5, 6]), np.array([0.9, 0.8, 0.6]), LABELS, width=200, height=50)
    assert [e["label"] for e in result["entities"]] == ["QUESTION", "ANSWER"]
    answer = result["entities"][1]
    assert answer["text"] == "John Smith" and answer["box"] == [70, 9, 170, 31] and abs(answer["score"] - 0.7) < 1e-6
    assert result["words"][0]["label"] == "B-QUESTION" and result["truncated_words"] == 0


def test_labels_come_from_config(tmp_path):
    (tmp_path / "config.json").write_text('{"id2label": {"1": "B-X", "0": "O", "2": "I-X"}}')
    assert load_id2label(tmp_path) == ["O", "B-X", "I-X"]
