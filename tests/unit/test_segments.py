"""Segment boxes (serving/segments.py) and the page scale chosen before OCR (serving/page_scale.py)."""

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from layoutlmv3_triton.serving import page_scale, segments


def test_segment_boxes_are_the_union_of_each_segments_words():
    boxes = [[10, 10, 50, 30], [60, 12, 90, 32], [10, 50, 40, 70], [5, 5, 8, 8]]
    out = segments.segment_boxes(boxes, [0, 0, 1, -1])
    assert out == [[10, 10, 90, 32], [10, 10, 90, 32], [10, 50, 40, 70], [5, 5, 8, 8]]
    with pytest.raises(ValueError):
        segments.segment_boxes(boxes, [0, 1])


def test_lines_from_boxes_alone():
    # "Name: Ada Lovelace" on one line, a wide gap, then a value far right; a second line below
    boxes = [[10, 10, 60, 30], [70, 12, 100, 30], [108, 10, 180, 32], [600, 10, 650, 30], [10, 50, 60, 70]]
    assert segments.line_ids(boxes) == [0, 0, 0, 1, 2]
    assert segments.segment_boxes(boxes)[1] == [10, 10, 180, 32]


def test_boxes_at_level_uses_ocr_ids_else_geometry():
    boxes = [[10, 10, 60, 30], [70, 10, 100, 30], [10, 50, 60, 70]]
    assert segments.boxes_at_level(boxes, "word") == boxes
    assert segments.boxes_at_level(boxes, "line", lines=[0, 1, 1]) == [
        [10, 10, 60, 30],
        [10, 10, 100, 70],
        [10, 10, 100, 70],
    ]
    assert segments.boxes_at_level(boxes, "block", lines=[0, 0, 1], blocks=[0, 0, 0])[2] == [10, 10, 100, 70]
    assert segments.boxes_at_level(boxes, "line")[0] == [10, 10, 100, 30]  # no ids: geometric lines
    with pytest.raises(ValueError):
        segments.boxes_at_level(boxes, "paragraph")


def test_box_level_from_model_config(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"id2label": {"0": "O"}}))
    assert segments.read_box_level(config) == "word"
    config.write_text(json.dumps({"box_level": "line"}))
    assert segments.read_box_level(config) == "line"


def text_page(size: int, width: int = 800, height: int = 1000) -> Image.Image:
    """Lines of black bars as tall as text of ``size`` px (a font-free stand-in for print)."""
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for y in range(40, height - 40, size * 2):
        for x in range(30, width - 100, 90):
            draw.rectangle([x, y, x + 60, y + size - 1], fill=0)
    return image


@pytest.mark.parametrize("size", [8, 12, 30])
def test_text_height_is_measured(size):
    assert page_scale.estimate_text_height(text_page(size)) == pytest.approx(size, abs=1)


def test_blank_page_has_no_text_height():
    assert page_scale.estimate_text_height(Image.new("L", (600, 800), 255)) is None


def test_scale_brings_small_text_up_and_leaves_large_pages_alone():
    assert page_scale.choose_scale(text_page(10), 25, 4, 12_000_000) == pytest.approx(2.5)
    assert page_scale.choose_scale(text_page(30), 25, 4, 12_000_000) == 1.0  # already large
    assert page_scale.choose_scale(text_page(10), 0, 4, 12_000_000) == 1.0  # scaling off
    assert page_scale.choose_scale(text_page(5), 25, 3, 12_000_000) == 3.0  # capped by max_scale
    capped = page_scale.choose_scale(text_page(10), 25, 4, 2_000_000)  # capped by pixels
    assert 800 * 1000 * capped**2 == pytest.approx(2_000_000)


def test_scale_falls_back_to_dpi_metadata():
    blank = Image.new("L", (850, 1100), 255)
    blank.info["dpi"] = (100, 100)
    assert page_scale.choose_scale(blank, 24, 4, 12_000_000) == pytest.approx(24 / (100 / 12))
    blank.info["dpi"] = (300, 300)
    assert page_scale.choose_scale(blank, 24, 4, 12_000_000) == 1.0


def test_otsu_splits_two_levels():
    gray = np.array([[20] * 10 + [230] * 30], dtype=np.uint8)
    assert 20 <= page_scale.otsu_threshold(gray) < 230
