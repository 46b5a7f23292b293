"""Real Tesseract (tesserocr, in-process) on pages rendered with known text."""

import pytest
from pages import render_lines
from PIL import Image

from layoutlmv3_triton.errors import OcrError
from layoutlmv3_triton.serving.ocr import OcrConfig, TesseractEngine, find_tessdata

LINES = ["Invoice Number: 12345", "Date: 2024-01-02 Total due 99.50", "Ship to: Acme Corporation Ltd"]


@pytest.fixture(scope="module")
def engine():
    with TesseractEngine() as e:
        yield e


def test_reads_known_words_with_tight_boxes(engine):
    image, truth = render_lines(LINES)
    words = engine.read(image)
    found = 0
    for text, box in truth:
        match = [w for w in words if w.text == text]
        if match:
            found += 1
            got = min(match, key=lambda w: abs(w.box[0] - box[0]) + abs(w.box[1] - box[1]))
            assert all(abs(a - b) <= 4 for a, b in zip(got.box, box)), (text, got.box, box)
            assert 0 <= got.confidence <= 100
    assert found / len(truth) >= 0.9


def test_engine_is_reused_across_pages(engine):
    a, _ = render_lines(["first page"])
    b, _ = render_lines(["second page"])
    assert [w.text for w in engine.read(a)] == ["first", "page"]
    assert [w.text for w in engine.read(b)] == ["second", "page"]


def test_blank_page_has_no_words(engine):
    assert engine.read(Image.new("RGB", (400, 300), "white")) == []


def test_configuration_errors_are_clear(tmp_path):
    with pytest.raises(OcrError, match="no Tesseract language data"):
        find_tessdata(str(tmp_path))
    with pytest.raises(OcrError, match="lang='xx_missing'"):
        TesseractEngine(OcrConfig(lang="xx_missing"))


def test_parameters_configure_engine():
    config = OcrConfig.from_parameters({"ocr_lang": "eng", "ocr_psm": "6"})
    assert config.psm == 6
    with TesseractEngine(config) as e:
        image, _ = render_lines(["single block of text"])
        assert [w.text for w in e.read(image)] == ["single", "block", "of", "text"]


def test_small_text_is_enlarged_and_boxes_come_back_in_page_pixels():
    """A page of 11 px print: read at native size and enlarged to a 15 px text height."""
    image, truth = render_lines(
        [
            "Invoice Number 12345 Total",
            "Ship to Acme Corporation Ltd",
            "Date 2024 Paid",
            "Order Reference Code",
            "Contact Office Manager",
        ],
        size=(400, 260),
        font_size=11,
    )
    config = OcrConfig(text_height=15, thresholding_method=1)
    from layoutlmv3_triton.serving.page_scale import choose_scale

    assert choose_scale(image, config.text_height, config.max_scale, config.max_pixels) > 1.3
    with TesseractEngine(config) as e:
        words = e.read(image)
    by_text = {w.text: w for w in words}
    found = [text for text, _ in truth if text in by_text]
    assert len(found) >= len(truth) - 1
    for text, box in truth:
        if text in by_text:
            got = by_text[text].box
            assert all(abs(a - b) <= 4 for a, b in zip(got, box)), (text, got, box)
            assert got[2] <= image.width and got[3] <= image.height


def test_words_carry_line_and_block_ids(engine):
    image, _ = render_lines(["first line here", "second line"])
    words = engine.read(image)
    assert [w.line for w in words] == [0, 0, 0, 1, 1]
    assert all(w.block >= 0 for w in words)


def test_words_split_after_separators():
    from layoutlmv3_triton.serving.page import Word
    from layoutlmv3_triton.serving.word_split import split_text, split_words

    assert split_text("12/4/87", "/-:") == ["12/", "4/", "87"]
    assert split_text("Date:12-1", "/-:") == ["Date:", "12-", "1"]
    assert split_text("/23", "/-:") == ["/23"] and split_text("Date:", "/-:") == ["Date:"]
    assert split_text("12/4/87", "") == ["12/4/87"]
    pieces = split_words([Word("ab/cd", (100, 10, 150, 20), 90.0, 3, 1)], "/")
    assert [(w.text, w.box, w.line, w.confidence) for w in pieces] == [
        ("ab/", (100, 10, 130, 20), 3, 90.0),
        ("cd", (130, 10, 150, 20), 3, 90.0),
    ]


def test_tesseract_variables_are_checked():
    config = OcrConfig(variables="tessedit_do_invert=0")
    assert config.tesseract_variables()["tessedit_do_invert"] == "0"
    with pytest.raises(OcrError, match="no variables"):
        TesseractEngine(OcrConfig(variables="no_such_variable=1"))
    with pytest.raises(OcrError, match="name=value"):
        OcrConfig(variables="oops").tesseract_variables()
    with pytest.raises(ValueError):
        OcrConfig(box_level="paragraph")


def test_textured_background_falls_back_to_global_threshold(engine):
    """Adaptive thresholding turns a textured paper background into specks; the engine notices
    (far more ink than a global threshold gives) and reads that page with the global one."""
    from pathlib import Path

    from layoutlmv3_triton.serving.images import decode_image

    sample = Path(__file__).resolve().parents[2] / "samples" / "form-3.jpg"
    words = [w.text for w in engine.read(decode_image(sample.read_bytes()))]
    assert engine.config.thresholding_method == 1
    assert words[:3] == ["Total", "Study", "Request"] and len(words) < 200
