"""The bad-input corpus without a server (load_document, then decode_image): every kind
gets a page or a typed error naming the preprocess stage, and nothing is decoded past
the limits."""

from __future__ import annotations

import bad_inputs
import numpy as np
import pytest
from PIL import Image, ImageFile

from layoutlmv3_triton.errors import BadImageError, ImageTooLargeError
from layoutlmv3_triton.serving.images import decode_image, to_rgb
from layoutlmv3_triton.serving.limits import Limits
from layoutlmv3_triton.serving.preprocessor import load_document

DOCUMENT_CASES = [c for c in bad_inputs.CASES if c.document is not None]


@pytest.mark.parametrize("case", DOCUMENT_CASES, ids=lambda c: c.name)
def test_corpus_decodes_or_fails_cleanly(case):
    data = case.document()
    if case.expect == "error":
        with pytest.raises(BadImageError) as info:
            load_document(data)
        assert info.value.stage == case.stage == "preprocess"
        assert case.reason in str(info.value).lower()
    else:
        (page,) = load_document(data)
        assert page.image.mode == "RGB" and page.image.width >= 1 and page.image.height >= 1


def test_bomb_is_refused_from_its_header_alone(monkeypatch):
    data = bad_inputs.bomb_png()
    assert len(data) < 200_000  # small on disk, 900 MP once decoded
    decoded = []
    real_load = ImageFile.ImageFile.load

    def load(self):  # decoding 900 MP would take seconds and gigabytes: it must not start
        decoded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    with pytest.raises(ImageTooLargeError, match="30000|900000000"):
        decode_image(data)
    assert decoded == []
    assert decode_image(bad_inputs.good_png()) and decoded  # the spy does see a real decode


def test_configured_limits_are_honoured():
    page = bad_inputs.encode(Image.new("RGB", (400, 300), "white"))
    assert decode_image(page, Limits(max_image_pixels=120_000)).size == (400, 300)
    with pytest.raises(ImageTooLargeError, match="400x300 pixels; the limits are 119999 pixels"):
        decode_image(page, Limits(max_image_pixels=119_999))
    with pytest.raises(ImageTooLargeError, match="per side"):
        decode_image(page, Limits(max_image_side=399))
    with pytest.raises(ImageTooLargeError, match=f"document is {len(page)} bytes; the limit is {len(page) - 1}"):
        decode_image(page, Limits(max_request_bytes=len(page) - 1))


def test_sixteen_bit_greyscale_keeps_its_contrast():
    image = decode_image(bad_inputs.tiff_16bit())
    grey = np.asarray(image.convert("L"))
    assert grey.min() < 50 and grey.max() > 200  # scaled, not clipped to white


def test_cmyk_and_transparency_come_out_rgb_on_white():
    assert decode_image(bad_inputs.encode(bad_inputs.text_page(mode="CMYK"), "JPEG")).mode == "RGB"
    clear = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    assert to_rgb(clear).getpixel((5, 5)) == (255, 255, 255)


def test_animated_gif_gives_its_first_frame():
    image = decode_image(bad_inputs.animated_gif())
    first = bad_inputs.text_page()
    assert image.size == first.size
    assert np.abs(np.asarray(image, dtype=int) - np.asarray(first, dtype=int)).mean() < 5


def test_unexpected_decoder_exceptions_become_bad_image_errors(monkeypatch):
    def broken_open(*args, **kwargs):
        raise KeyError("a decoder bug")

    monkeypatch.setattr(Image, "open", broken_open)
    with pytest.raises(BadImageError, match="KeyError"):
        decode_image(bad_inputs.good_png())
