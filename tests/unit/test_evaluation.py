"""Matching the server's OCR words to the ground truth, and entity scoring, on hand-made pages."""

from __future__ import annotations

import io
import random
import re

import pytest

pytest.importorskip("seqeval")
datasets = pytest.importorskip("datasets")

from seqeval.metrics import f1_score, precision_score, recall_score  # noqa: E402
from seqeval.scheme import IOB2  # noqa: E402

from layoutlmv3_triton.measure import evaluation as ev  # noqa: E402
from layoutlmv3_triton.measure.evaluation import GroundTruth  # noqa: E402

# A 1000 x 500 page: ground-truth boxes are 0..1000, so x is in pixels and y is halved.
W, H = 1000, 500
GT_WORDS = ["Name:", "Ada", "Lovelace", "Date:", "1843"]
GT_PIXELS = [[100, 50, 200, 70], [220, 50, 280, 70], [290, 50, 400, 70], [100, 100, 190, 120], [210, 100, 280, 120]]
GT_TAGS = ["B-QUESTION", "B-ANSWER", "I-ANSWER", "B-QUESTION", "B-ANSWER"]


def truth() -> GroundTruth:
    boxes = [[x0 * 1000 / W, y0 * 1000 / H, x1 * 1000 / W, y1 * 1000 / H] for x0, y0, x1, y1 in GT_PIXELS]
    return GroundTruth("p0", list(GT_WORDS), boxes, list(GT_TAGS), W, H)


def result(words: list[tuple[str, list[float], str]], width: int = W, height: int = H) -> dict:
    return {
        "labels": ["O", "B-HEADER", "I-HEADER", "B-QUESTION", "I-QUESTION", "B-ANSWER", "I-ANSWER"],
        "pages": [
            {
                "page": 0,
                "width": width,
                "height": height,
                "words": [{"text": t, "box": b, "label": lab, "score": 0.9} for t, b, lab in words],
            }
        ],
    }


def perfect_words() -> list[tuple[str, list[float], str]]:
    return [(w, list(b), t) for w, b, t in zip(GT_WORDS, GT_PIXELS, GT_TAGS)]


def scored(page: ev.PageEval) -> dict:
    return ev.summarize([page])


# --- matching --------------------------------------------------------------------------------


def test_gt_boxes_scale_back_to_pixels():
    px = ev.gt_boxes_to_pixels([[100, 100, 200, 240]], 1000, 500)
    assert px.tolist() == [[100, 50, 200, 120]]


def test_cover_is_intersection_over_ocr_area():
    cover = ev.cover_matrix([[0, 0, 10, 10], [5, 0, 15, 10]], [[0, 0, 10, 10], [100, 100, 110, 110]])
    assert cover[0].tolist() == [1.0, 0.0]
    assert cover[1].tolist() == [0.5, 0.0]
    # a zero-area OCR box still matches the box it lies in, without dividing by zero
    assert ev.cover_matrix([[5, 5, 5, 5]], [[0, 0, 10, 10]]).tolist() == [[0.0]]


def test_match_threshold_and_ties():
    gt = [[0, 0, 10, 10], [10, 0, 20, 10]]
    assert ev.match_words([[0, 0, 10, 10]], gt) == [0]
    assert ev.match_words([[5, 0, 15, 10]], gt) == [0]  # 0.5 / 0.5: the earlier ground-truth word wins
    assert ev.match_words([[8, 0, 18, 10]], gt) == [1]  # 0.2 vs 0.8
    assert ev.match_words([[0, 0, 10, 10]], [[6, 0, 20, 10]]) == [-1]  # 0.4 < 0.5
    assert ev.match_words([[0, 0, 10, 10]], [[6, 0, 20, 10]], min_cover=0.3) == [0]
    assert ev.match_words([], gt) == [] and ev.match_words([[0, 0, 1, 1]], []) == [-1]


def test_project_takes_first_ocr_word_and_misses_are_o():
    pred, matched = ev.project_labels([1, 1, -1, 0], ["B-ANSWER", "B-QUESTION", "B-HEADER", "I-ANSWER"], 3)
    assert pred == ["I-ANSWER", "B-ANSWER", "O"]
    assert matched == [True, True, False]


# --- whole pages -----------------------------------------------------------------------------


def test_perfect_match_scores_one():
    page = ev.evaluate_page(truth(), result(perfect_words()))
    assert page.pred == GT_TAGS and all(page.matched)
    s = scored(page)
    assert s["entity"]["f1"] == 1.0 and s["entity"]["gold"] == 4 and s["entity"]["correct"] == 4
    assert s["ocr_word_recall"] == 1.0 and s["word_accuracy"] == 1.0
    assert s["per_label"]["QUESTION"]["f1"] == 1.0 and s["per_label"]["ANSWER"]["f1"] == 1.0


def test_split_ocr_word_still_scores_one():
    words = perfect_words()
    # Tesseract read "Lovelace" as "Love" + "lace": both pieces lie inside the one ground-truth word
    words[2:3] = [("Love", [290, 50, 340, 70], "I-ANSWER"), ("lace", [342, 50, 400, 70], "I-ANSWER")]
    page = ev.evaluate_page(truth(), result(words))
    assert page.pred == GT_TAGS and page.ocr_words == 6 and page.assigned_ocr_words == 6
    assert scored(page)["entity"]["f1"] == 1.0


def test_first_piece_of_a_split_word_decides():
    words = perfect_words()
    words[0:1] = [("Na", [100, 50, 150, 70], "O"), ("me:", [150, 50, 200, 70], "B-QUESTION")]
    page = ev.evaluate_page(truth(), result(words))
    assert page.pred[0] == "O"
    s = scored(page)
    assert s["entity"]["correct"] == 3 and s["per_label"]["QUESTION"]["recall"] == 0.5


def test_missed_word_is_predicted_o_and_counts_as_a_miss():
    words = [w for w in perfect_words() if w[0] != "Lovelace"]
    page = ev.evaluate_page(truth(), result(words))
    assert page.pred == ["B-QUESTION", "B-ANSWER", "O", "B-QUESTION", "B-ANSWER"]
    assert page.matched == [True, True, False, True, True]
    s = scored(page)
    assert s["ocr_word_recall"] == pytest.approx(0.8)
    # "Ada" alone is not the gold entity "Ada Lovelace": 3 of 4 entities right, 3 of 4 predicted right
    assert s["entity"]["correct"] == 3 and s["entity"]["predicted"] == 4 and s["entity"]["gold"] == 4
    assert s["entity"]["f1"] == pytest.approx(0.75)
    assert s["per_label"]["ANSWER"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5, "gold": 2, "predicted": 2, "correct": 1}
    )


def test_wrong_label():
    words = perfect_words()
    words[3] = ("Date:", GT_PIXELS[3], "B-HEADER")
    page = ev.evaluate_page(truth(), result(words))
    s = scored(page)
    assert s["ocr_word_recall"] == 1.0 and s["word_accuracy"] == pytest.approx(0.8)
    assert s["entity"]["correct"] == 3 and s["entity"]["predicted"] == 4
    assert s["entity"]["precision"] == pytest.approx(0.75) and s["entity"]["recall"] == pytest.approx(0.75)
    assert s["per_label"]["HEADER"] == pytest.approx(
        {"precision": 0.0, "recall": 0.0, "f1": 0.0, "gold": 0, "predicted": 1, "correct": 0}
    )
    assert s["per_label"]["QUESTION"]["recall"] == 0.5 and s["per_label"]["QUESTION"]["precision"] == 1.0
    # the macro average only counts labels that occur in the ground truth
    assert s["macro_f1"] == pytest.approx((1.0 + 2 / 3) / 2)


def test_merged_ocr_word_matches_one_ground_truth_word():
    words = perfect_words()
    # "Ada Lovelace" read as one word: it lies mostly over "Lovelace", so "Ada" is missed
    words[1:3] = [("AdaLovelace", [220, 50, 400, 70], "B-ANSWER")]
    page = ev.evaluate_page(truth(), result(words))
    assert page.pred[1:3] == ["O", "B-ANSWER"] and page.matched[1:3] == [False, True]


def test_stray_ocr_words_are_ignored_and_server_size_is_rescaled():
    words = [(w, [v / 2 for v in b], t) for w, b, t in perfect_words()]
    words.append(("|", [5, 5, 8, 40], "B-HEADER"))  # a page border read as a word: no ground truth under it
    page = ev.evaluate_page(truth(), result(words, width=W // 2, height=H // 2))
    assert page.pred == GT_TAGS and page.assigned_ocr_words == 5 and page.ocr_words == 6
    assert scored(page)["entity"]["f1"] == 1.0


def test_failed_page_predicts_nothing():
    page = ev.evaluate_page(truth(), None, error="preprocess: cannot decode image")
    assert page.pred == ["O"] * 5 and page.error.startswith("preprocess")
    s = scored(page)
    assert s["entity"]["f1"] == 0.0 and s["entity"]["gold"] == 4 and s["ocr_word_recall"] == 0.0


# --- scoring agrees with seqeval -------------------------------------------------------------


def random_tags(rng: random.Random, n: int) -> list[str]:
    return [
        rng.choice(["O", "O", "B-HEADER", "I-HEADER", "B-QUESTION", "I-QUESTION", "B-ANSWER", "I-ANSWER"])
        for _ in range(n)
    ]


@pytest.mark.parametrize("strict", [False, True])
def test_entity_scores_equal_seqeval(strict):
    rng = random.Random(7)
    kw = {"mode": "strict", "scheme": IOB2} if strict else {}
    for _ in range(30):
        lengths = [rng.randint(0, 12) for _ in range(rng.randint(1, 4))]
        gold = [random_tags(rng, n) for n in lengths]
        pred = [random_tags(rng, n) if rng.random() < 0.5 else list(g) for g, n in zip(gold, lengths)]
        if not any(gold) or not any(pred):
            continue
        ours = ev.entity_scores(gold, pred, strict=strict)["overall"]
        assert ours["f1"] == pytest.approx(f1_score(gold, pred, zero_division=0, **kw))
        assert ours["precision"] == pytest.approx(precision_score(gold, pred, zero_division=0, **kw))
        assert ours["recall"] == pytest.approx(recall_score(gold, pred, zero_division=0, **kw))


def test_default_mode_reads_a_leading_i_as_an_entity_and_strict_does_not():
    gold, pred = [["B-QUESTION", "I-QUESTION"]], [["I-QUESTION", "I-QUESTION"]]
    assert ev.entity_scores(gold, pred)["overall"]["f1"] == 1.0
    assert ev.entity_scores(gold, pred, strict=True)["overall"]["f1"] == 0.0


def test_scores_need_aligned_sequences():
    with pytest.raises(ValueError):
        ev.entity_scores([["O", "O"]], [["O"]])


# --- the run, with a stand-in client ---------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    from PIL import Image

    from layoutlmv3_triton.synth import FUNSD_LABELS

    pages = []
    for i in range(3):
        image = Image.new("RGB", (W, H), "white")
        buf = io.BytesIO()
        image.save(buf, format="JPEG")
        pages.append(
            {
                "id": f"page-{i}",
                "tokens": GT_WORDS,
                "bboxes": [[round(v) for v in b] for b in truth().boxes],
                "ner_tags": [FUNSD_LABELS.index(t) for t in GT_TAGS],
                "image": {"bytes": buf.getvalue(), "path": None},
            }
        )
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "tokens": datasets.Sequence(datasets.Value("string")),
            "bboxes": datasets.Sequence(datasets.Sequence(datasets.Value("int64"))),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=FUNSD_LABELS)),
            "image": datasets.Image(),
        }
    )
    ds = datasets.Dataset.from_list(pages, features=features)
    out = tmp_path_factory.mktemp("eval-data") / "ds"
    ds.save_to_disk(str(out))
    return out


class StandInClient:
    """Answers like the server would for a perfect model; the second page fails."""

    def __init__(self):
        self.sent: list[bytes] = []

    def check(self):
        pass

    def infer_many(self, items, concurrency=1, ordered=False):
        from layoutlmv3_client import Outcome
        from layoutlmv3_client.errors import InferenceError

        for i, item in enumerate(items):
            data = item()
            self.sent.append(data)
            if i == 1:
                yield Outcome(i, error=InferenceError("preprocess: OCR failed", "preprocess"))
            else:
                yield Outcome(i, result=result(perfect_words()))


def test_evaluate_run_sends_png_and_reports(tiny_dataset):
    from PIL import Image

    client = StandInClient()
    seen = []
    cfg = ev.EvalConfig(url="127.0.0.1:1", data=str(tiny_dataset), progress=False)
    run = ev.evaluate(cfg, client=client, on_page=seen.append)
    assert len(client.sent) == 3 and len(seen) == 3
    assert all(data.startswith(b"\x89PNG") for data in client.sent)
    assert Image.open(io.BytesIO(client.sent[0])).size == (W, H)
    report = run.report
    assert report["pages"] == 3 and report["pages_failed"] == 1 and run.failed == 1
    assert report["errors"] == [{"id": "page-1", "error": "preprocess: OCR failed"}]
    # two perfect pages and one with nothing found: recall 8/12, precision 1
    assert report["entity"]["precision"] == 1.0 and report["entity"]["recall"] == pytest.approx(8 / 12)
    assert run.f1 == pytest.approx(0.8)
    assert report["ocr_word_recall"] == pytest.approx(10 / 15)
    assert report["dataset_labels"][0] == "O" and report["model_labels"] == report["dataset_labels"]
    assert ev.label_mismatch(report) is None
    assert len(report["per_page"]) == 3 and report["per_page"][0]["gt_words"] == 5
    table = ev.format_table(report)
    assert "QUESTION" in table and "ANSWER" in table and "overall" in table
    assert re.fullmatch(r"entity_f1=\d\.\d{4}", ev.f1_line(report)) and ev.f1_line(report) == "entity_f1=0.8000"


def test_limit_and_bad_data(tiny_dataset, tmp_path):
    ds, split, names = ev.load_pages(data=str(tiny_dataset), limit=2)
    assert len(ds) == 2 and split is None and names[0] == "O"
    with pytest.raises(ev.EvaluationError, match="no dataset folder"):
        ev.load_pages(data=str(tmp_path / "nope"))
    with pytest.raises(ev.EvaluationError, match="exactly one"):
        ev.load_pages()
    datasets.Dataset.from_dict({"tokens": [["a"]]}).save_to_disk(str(tmp_path / "bad"))
    with pytest.raises(ev.EvaluationError, match="FUNSD columns"):
        ev.load_pages(data=str(tmp_path / "bad"))


def test_dataset_dict_prefers_test_split(tiny_dataset, tmp_path):
    ds = datasets.load_from_disk(str(tiny_dataset))
    datasets.DatasetDict({"train": ds, "test": ds.select([0])}).save_to_disk(str(tmp_path / "dd"))
    picked, split, _ = ev.load_pages(data=str(tmp_path / "dd"))
    assert split == "test" and len(picked) == 1
    picked, split, _ = ev.load_pages(data=str(tmp_path / "dd"), split="train")
    assert split == "train" and len(picked) == 3


# --- word recall by box, and by box and text ----------------------------------------------------


def test_word_recall_by_box_and_text():
    from layoutlmv3_triton.datasets.matching import match_words, word_recall

    gt = [[0, 0, 40, 10], [50, 0, 90, 10], [0, 20, 40, 30], [50, 20, 90, 30]]
    ocr = [
        [0, 0, 20, 10],
        [20, 0, 40, 10],  # "Da" + "te:" split in two: still right
        [50, 0, 90, 10],  # misread
        [0, 20, 90, 30],
    ]  # two words merged: neither covers half of it, both lost
    texts = ["Da", "TE:", "l843", "Ada Lovelace"]
    recall = word_recall(match_words(ocr, gt), texts, ["Date:", "1843", "Ada", "Lovelace"])
    assert recall.by_box == [True, True, False, False]
    assert recall.by_text == [True, False, False, False]


def test_page_eval_reports_both_recalls():
    words = perfect_words()
    words[1] = ("ADA", words[1][1], words[1][2])  # case does not matter
    words[2] = ("Lovelace!", words[2][1], words[2][2])
    page = ev.evaluate_page(truth(), result(words))
    summary = ev.summarize([page])
    assert summary["word_recall_box"] == 1.0
    assert summary["word_recall_box_text"] == pytest.approx(4 / 5)
    row = page.as_dict()
    assert row["word_recall_box_text"] == pytest.approx(0.8) and row["entity_f1"] == 1.0
    assert "p0" in ev.format_per_page({"per_page": [row]})
