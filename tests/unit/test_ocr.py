"""Real Tesseract (tesserocr, in-process) on pages rendered with known text."""
import pytest
from PIL import Image

from pages import render_lines
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
