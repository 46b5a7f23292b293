"""The local model step runs each window at its own length: padding after a row's last
real token is cut off, and the logits equal those of the row run alone, unpadded."""

from __future__ import annotations

import numpy as np
import pytest

from layoutlmv3_triton import contract
from layoutlmv3_triton.serving.onnx_classifier import OnnxTokenClassifier, real_lengths


def test_real_lengths_ignore_trailing_padding_only():
    mask = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 0, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]])
    assert real_lengths(mask) == [3, 3, 1, 5]


def _row(rng, length: int, padded: int) -> dict[str, np.ndarray]:
    ids = np.full(padded, 1, dtype=np.int64)
    ids[:length] = rng.integers(5, 200, length)
    ids[0], ids[length - 1] = 0, 2
    mask = np.zeros(padded, dtype=np.int64)
    mask[:length] = 1
    bbox = np.zeros((padded, 4), dtype=np.int64)
    bbox[1 : length - 1] = np.sort(rng.integers(0, 1000, (length - 2, 4)), axis=-1)
    pixels = rng.standard_normal((3, contract.IMAGE_SIZE, contract.IMAGE_SIZE)).astype(np.float32)
    return {
        contract.INPUT_IDS.name: ids,
        contract.ATTENTION_MASK.name: mask,
        contract.BBOX.name: bbox,
        contract.PIXEL_VALUES.name: pixels,
    }


def _request(rows: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {t.name: np.stack([r[t.name] for r in rows]) for t in contract.MODEL_INPUTS}


@pytest.fixture(scope="module")
def model(tiny_repository):
    return OnnxTokenClassifier(tiny_repository / contract.MODEL / "1" / contract.ONNX_FILE, threads=1)


def test_each_window_runs_at_its_own_length(model):
    rng = np.random.default_rng(0)
    long_page = _request([_row(rng, 60, 64), _row(rng, 23, 64)])  # a page's windows, padded to the longest
    short_page = _request([_row(rng, 23, 32)])  # another request: its row shares a length with the one above
    out = model.run_many([long_page, short_page])
    assert [o.shape[:2] for o in out] == [(2, 64), (1, 32)]
    for request, logits in ((long_page, out[0]), (short_page, out[1])):
        for row, length in enumerate(real_lengths(request[contract.ATTENTION_MASK.name])):
            alone = model.run(
                {
                    k: (v[row : row + 1] if k == contract.PIXEL_VALUES.name else v[row : row + 1, :length])
                    for k, v in request.items()
                }
            )
            np.testing.assert_allclose(logits[row, :length], alone[0], rtol=1e-4, atol=1e-4)
            assert not logits[row, length:].any()
    padded = model.run_many([long_page, short_page], pad_across_lengths=True)
    np.testing.assert_allclose(padded[0][:, :23], out[0][:, :23], rtol=1e-3, atol=1e-3)
