"""bench --pages-dir: the user's page images, first N in name order, sent as stored."""

import pytest
from PIL import Image

from layoutlmv3_triton.measure.bench.pages import read_pages_dir
from layoutlmv3_triton.measure.bench.runner import BenchConfig


def test_reads_first_n_images_in_name_order(tmp_path):
    for name, size in [("b.png", (30, 40)), ("a.jpg", (50, 60)), ("c.tif", (10, 20))]:
        Image.new("RGB", size, "white").save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not a page")
    pages = read_pages_dir(tmp_path, 2)
    assert [p.name for p in pages] == ["a.jpg", "b.png"]
    assert (pages[0].width, pages[0].height) == (50, 60) and pages[0].truth_words is None
    assert pages[1].data == (tmp_path / "b.png").read_bytes()
    assert len(read_pages_dir(tmp_path)) == 3


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(ValueError):
        read_pages_dir(tmp_path)


def test_pages_dir_takes_all_pages_unless_told():
    assert BenchConfig(pages_dir="x").resolved().pages is None
    assert BenchConfig(pages_dir="x", pages=5).resolved().pages == 5
    assert BenchConfig().resolved().pages == 16
