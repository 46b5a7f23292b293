"""Synthetic pages: reproducible, well-formed, FUNSD-formatted, and readable by Tesseract."""

from __future__ import annotations

import os
import pathlib

import pytest
from PIL import Image, ImageDraw

from layoutlmv3_triton import synth
from layoutlmv3_triton.synth.render import rotate_box

TESSDATA = "/usr/share/tesseract-ocr/5/tessdata/"


def assert_valid_bio(labels: list[str]) -> None:
    prev = "O"
    for i, label in enumerate(labels):
        assert label in synth.FUNSD_LABELS, label
        if label.startswith("I-"):
            assert prev in (f"B-{label[2:]}", label), f"word {i}: {label} after {prev}"
        prev = label


@pytest.mark.parametrize("noise", [False, True])
def test_same_seed_same_page(noise):
    a = synth.render_page(1234, noise=noise)
    b = synth.render_page(1234, noise=noise)
    assert a.image.tobytes() == b.image.tobytes()
    assert (a.words, a.boxes, a.labels) == (b.words, b.boxes, b.labels)
    c = synth.render_page(1235, noise=noise)
    assert c.words != a.words


def test_generate_is_deterministic_per_index():
    first = [p.words for p in synth.generate(3, seed=5)]
    again = [p.words for p in synth.generate(3, seed=5)]
    other = [p.words for p in synth.generate(3, seed=6)]
    assert first == again
    assert first != other
    assert [p.id for p in synth.generate(2, seed=5)] == ["5-0", "5-1"]


@pytest.mark.parametrize("seed", range(12))
def test_pages_are_well_formed(seed):
    noisy = seed % 2 == 1
    page = synth.render_page(seed, noise=noisy)
    w, h = page.image.size
    if noisy:  # a scan may be resampled to about 100 dpi (60-90% of the drawn size)
        assert 600 <= w <= 1000 and abs(h / w - 1.3) < 0.01
    else:
        assert (w, h) == (1000, 1300)
    assert 30 <= len(page.words) == len(page.boxes) == len(page.labels) == len(page.entity_ids)
    for word, (x0, y0, x1, y1) in zip(page.words, page.boxes):
        assert word and " " not in word
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, (word, (x0, y0, x1, y1))
        assert y1 - y0 >= (5 if noisy else 8), f"{word!r} is too small for reliable OCR"
    assert_valid_bio(page.labels)
    assert {"B-HEADER", "B-QUESTION", "B-ANSWER", "O"} <= set(page.labels)


def test_clean_boxes_do_not_overlap_and_enclose_ink():
    page = synth.render_page(77)
    gray = page.image.convert("L")
    boxes = page.boxes
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            ix = min(a[2], b[2]) - max(a[0], b[0])
            iy = min(a[3], b[3]) - max(a[1], b[1])
            assert ix <= 0 or iy <= 0, (a, b)
        crop = gray.crop(a)
        assert crop.getextrema()[0] < 100, f"no dark ink inside {a}"


def test_rotate_box_follows_pil_rotation():
    image = Image.new("L", (400, 300), 255)
    ImageDraw.Draw(image).rectangle((300, 50, 310, 60), fill=0)
    angle = 5.0
    rotated = image.rotate(angle, center=(200, 150), fillcolor=255)
    x0, y0, x1, y1 = rotate_box((300, 50, 311, 61), angle, (200, 150), image.size)
    ink = rotated.point(lambda v: 255 if v < 128 else 0).getbbox()
    assert x0 <= ink[0] and y0 <= ink[1] and ink[2] <= x1 and ink[3] <= y1
    assert (x1 - x0) < 20 and (y1 - y0) < 20


def test_page_size_and_noise_are_checked():
    with pytest.raises(synth.SynthError):
        synth.render_page(1, width=100)
    with pytest.raises(synth.SynthError):
        synth.render_page(1, noise=2.0)
    page = synth.render_page(3, width=1600, height=2000)
    assert page.image.size == (1600, 2000)


def test_corpus_texts_match_rendered_words():
    texts = synth.corpus_texts(4, seed=9)
    pages = list(synth.generate(4, seed=9))
    assert len(texts) == 4
    for text, page in zip(texts, pages):
        vocab = set(text.split())
        assert sum(w in vocab for w in page.words) / len(page.words) > 0.95


def test_dataset_round_trip(tmp_path):
    datasets = pytest.importorskip("datasets")
    out = synth.write_dataset(tmp_path / "ds", n=4, seed=2, noise=0.5, previews=1)
    ds = datasets.load_from_disk(str(out))
    assert ds.column_names == ["id", "tokens", "bboxes", "ner_tags", "image", "entity_ids", "links"]
    assert ds.features["ner_tags"].feature.names == synth.FUNSD_LABELS
    assert len(ds) == 4
    pages = list(synth.generate(4, seed=2, noise=0.5))
    for row, page in zip(ds, pages):
        assert row["id"] == page.id and row["tokens"] == page.words
        assert [synth.FUNSD_LABELS[t] for t in row["ner_tags"]] == page.labels
        assert all(len(b) == 4 and all(0 <= v <= 1000 for v in b) for b in row["bboxes"])
        assert row["image"].size == page.image.size
        assert row["entity_ids"] == page.entity_ids and row["links"] == [list(link) for link in page.links]
    assert any(pathlib.Path(out, "previews").glob("*.boxes.png"))


def _ocr_words(image):
    tesserocr = pytest.importorskip("tesserocr")
    if not os.path.isdir(TESSDATA):
        pytest.skip("Debian tesseract-ocr-eng is not installed")
    with tesserocr.PyTessBaseAPI(path=TESSDATA, lang="eng") as api:
        api.SetImage(image)
        api.Recognize()
        level = tesserocr.RIL.WORD
        out = []
        for item in tesserocr.iterate_level(api.GetIterator(), level):
            text, box = (item.GetUTF8Text(level) or "").strip(), item.BoundingBox(level)
            if text and box:
                out.append((text, box))
        return out


def _coverage(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy / max(1, (a[2] - a[0]) * (a[3] - a[1]))


@pytest.mark.parametrize("seed,noise", [(11, False), (12, True)])
def test_tesseract_reads_the_words(seed, noise):
    page = synth.render_page(seed, noise=noise)
    ocr = _ocr_words(page.image)
    read = 0
    for word, box in zip(page.words, page.boxes):
        best = max(ocr, key=lambda o: _coverage(box, o[1]))
        read += best[0] == word and _coverage(box, best[1]) > 0.5
    assert read / len(page.words) >= 0.9, f"Tesseract read {read} of {len(page.words)} words"


@pytest.mark.parametrize("seed", range(6))
def test_entities_and_links(seed):
    """Each entity's words are contiguous and begin with its B- tag; links join a question to an answer."""
    page = synth.render_page(seed)
    first: dict[int, int] = {}
    for i, (label, entity) in enumerate(zip(page.labels, page.entity_ids)):
        if entity in first:
            assert page.entity_ids[i - 1] == entity and not label.startswith("B-")
        else:
            first[entity] = i
            assert label == "O" or label.startswith("B-")
    assert page.links
    for question, answer in page.links:
        assert page.labels[first[question]] == "B-QUESTION" and page.labels[first[answer]] == "B-ANSWER"


def test_broad_vocabulary_and_scan_look():
    """Pages draw on the English word lists and typewriter faces; scans come at ~100 dpi."""
    from layoutlmv3_triton.synth import fonts, vocab, words

    assert len(words.common_words()[0]) > 1000
    pages = [synth.render_page(s, noise=True) for s in range(8)]
    vocabulary = {w.strip(".,:;?").lower() for p in pages for w in p.words}
    fixed = {w.lower() for w in (*vocab.PROSE, *vocab.NOUNS, *vocab.ADJ)}
    assert len(vocabulary - fixed) > 200
    assert any(p.image.width < 1000 for p in pages)
    names = {f.name for f in fonts.available_families()}
    if len(names) > 3:  # the Debian fonts of `make setup` are installed
        assert names & set(fonts.TYPEWRITER)
