"""Encoding with a real (from-scratch) LayoutLMv3 processor: boxes, special tokens, buckets."""

import numpy as np
import pytest
from PIL import Image

from layoutlmv3_triton import contract
from layoutlmv3_triton.serving.encoding import PageEncoder, normalize_boxes


@pytest.fixture(scope="module")
def encoder(tiny_model_dir):
    return PageEncoder(tiny_model_dir)


def test_normalize_clamps_and_orders():
    boxes = [[-10, -5, 50, 20], [90, 40, 120, 60], [30, 30, 10, 10]]
    norm = normalize_boxes(boxes, width=100, height=50)
    assert norm.tolist() == [[0, 0, 500, 400], [900, 800, 1000, 1000], [100, 200, 300, 600]]
    assert normalize_boxes([], 10, 10).shape == (0, 4)


def test_special_tokens_and_word_map(encoder):
    page = Image.new("RGB", (200, 100), "white")
    words = ["Name:", "Johnathan", "Smithersonville"]
    enc = encoder.encode(page, words, [[0, 0, 50, 10], [60, 0, 120, 10], [130, 0, 199, 10]])
    n = int(enc.attention_mask.sum())
    assert enc.input_ids[0] == encoder.tokenizer.cls_token_id and enc.input_ids[n - 1] == encoder.tokenizer.sep_token_id
    assert enc.word_ids[0] == -1 and enc.word_ids[n - 1] == -1 and (enc.word_ids[n:] == -1).all()
    firsts = [int(np.argmax(enc.word_ids == w)) for w in range(3)]
    assert firsts == sorted(firsts) and len(enc.word_ids[enc.word_ids >= 0]) >= 3
    assert enc.bbox[firsts[2]].tolist() == [650, 0, 995, 100]
    assert enc.bbox.min() >= 0 and enc.bbox.max() <= 1000
    assert enc.input_ids.shape[0] == contract.bucket_length(n)
    assert enc.pixel_values.shape == (3, contract.IMAGE_SIZE, contract.IMAGE_SIZE)
    assert enc.truncated_words == 0


def test_truncation_is_explicit(encoder):
    page = Image.new("RGB", (1000, 1000), "white")
    words = [f"word{i}" for i in range(700)]
    enc = encoder.encode(page, words, [[0, 0, 10, 10]] * 700)
    assert enc.input_ids.shape[0] == contract.MAX_SEQ_LEN
    assert enc.truncated_words > 0
    assert enc.truncated_words == 700 - len(set(enc.word_ids[enc.word_ids >= 0].tolist()))


def test_blank_page_encodes_only_special_tokens(encoder):
    enc = encoder.encode(Image.new("RGB", (50, 50), "white"), [], [])
    assert int(enc.attention_mask.sum()) == 2 and (enc.word_ids == -1).all() and enc.n_words == 0


def test_batch_equals_one_by_one(encoder):
    pages = [Image.new("RGB", (100, 100), c) for c in ("white", "gray")]
    words = [["alpha", "beta"], ["gamma"]]
    boxes = [[[0, 0, 10, 10], [20, 20, 30, 30]], [[5, 5, 50, 50]]]
    batch = encoder.encode_batch(pages, words, boxes)
    for i in range(2):
        single = encoder.encode(pages[i], words[i], boxes[i])
        for name in ("input_ids", "bbox", "word_ids", "pixel_values"):
            np.testing.assert_array_equal(getattr(batch[i], name), getattr(single, name))
