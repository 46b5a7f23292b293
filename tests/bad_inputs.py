"""A corpus of bad and awkward inputs, generated in code (no binaries in git).

Each :class:`Case` is either a document (bytes sent as the ensemble's ``document``) or a
raw request (input name, dtype and shape chosen by hand, to bypass every client-side
check).  ``expect`` says what the server must answer: ``error`` (a per-request error
whose message names ``stage`` and matches ``reason``) or ``result`` (a valid result
document, checked by ``check``).  :func:`send` runs one case with raw tritonclient.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pages import font
from PIL import Image, ImageDraw

from layoutlmv3_triton import contract
from layoutlmv3_triton.serving.limits import Limits

TEXT = ["INVOICE NUMBER 4711", "Customer: Jane Doe", "Total amount: 120 EUR"]
# Errors the Triton core raises itself (before any backend runs) have no stage prefix.
CORE = "triton"


@dataclass(frozen=True)
class Outcome:
    result: dict | None = None
    status: str = ""  # gRPC status of an error, e.g. StatusCode.INVALID_ARGUMENT
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.result is not None


@dataclass(frozen=True)
class Case:
    name: str
    expect: str  # "error" or "result"
    document: Callable[[], bytes] | None = None  # bytes for the document input ...
    raw: Callable[[], tuple[str, str, np.ndarray]] | None = None  # ... or (input name, dtype, array)
    stage: str = ""  # the stage an error must name
    reason: str = ""  # a substring (lower case) the error message must contain
    check: Callable[[dict], None] | None = None  # extra checks on a result


# --- generators ---------------------------------------------------------------------
def text_page(lines=TEXT, size=(900, 400), font_size=28, mode="RGB") -> Image.Image:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((40, 40 + row * font_size * 2), line, font=font(font_size), fill="black")
    return image if mode == "RGB" else image.convert(mode)


def encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


@functools.cache
def good_png() -> bytes:
    return encode(text_page())


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.cache
def bomb_png(side: int = 30_000) -> bytes:
    """A real decompression bomb: a 1-bit side x side PNG of zeros, about 100 KB on disk
    and 900 MP once decoded.  It must be refused from its header alone."""
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed pixels
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row * 1000) for _ in range(side // 1000)) + packer.flush()
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def tiff_16bit() -> bytes:
    grey = np.asarray(text_page(mode="L"), dtype=np.uint16) * 257  # full 16-bit range
    image = Image.fromarray(grey)
    assert image.mode == "I;16", image.mode
    return encode(image, "TIFF")


def animated_gif() -> bytes:
    frames = [text_page(), text_page(["SECOND FRAME ONLY"])]
    return encode(
        frames[0].convert("P"),
        "GIF",
        save_all=True,
        append_images=[f.convert("P") for f in frames[1:]],
        duration=200,
        loop=0,
    )


@functools.cache
def dense_page(words_per_line: int = 22, lines: int = 70) -> bytes:
    """About 1500 short words: far past 512 tokens (several windows, or truncated with one)."""
    rows = [" ".join(f"w{(r * words_per_line + c) % 97}" for c in range(words_per_line)) for r in range(lines)]
    return encode(text_page(rows, size=(1700, 70 * 30 + 80), font_size=15))


def pdf(pages: int = 1) -> bytes:
    first, *rest = [text_page(["PAGE", str(i)], size=(300, 200)) for i in range(pages)]
    return encode(first, "PDF", save_all=True, append_images=rest, resolution=72)


def raw_document(name: str = contract.DOCUMENT.name, dtype: str = "BYTES", array: np.ndarray | None = None):
    if array is None:
        array = np.array([[good_png()]], dtype=object)
    return lambda: (name, dtype, array)


# --- result checks ------------------------------------------------------------------
def page_of(result: dict) -> dict:
    assert len(result["pages"]) == 1, result
    return result["pages"][0]


def no_entities(result: dict) -> None:
    page = page_of(result)
    assert page["entities"] == [] and page["truncated_words"] == 0, page


def blank(result: dict) -> None:
    no_entities(result)
    assert page_of(result)["words"] == [], page_of(result)["words"]


def reads(*expected: str, absent: tuple[str, ...] = ()) -> Callable[[dict], None]:
    def check(result: dict) -> None:
        text = " ".join(w["text"] for w in page_of(result)["words"]).upper()
        assert all(e in text for e in expected), text
        assert not any(a in text for a in absent), text

    return check


def truncated(result: dict) -> None:
    """A page cut at the window limit says how many words got no label."""
    page = page_of(result)
    unlabelled = sum(w["label"] is None for w in page["words"])
    assert len(page["words"]) > 1000, len(page["words"])
    assert page["truncated_words"] == unlabelled > 500, (page["truncated_words"], unlabelled)


def covered(result: dict) -> None:
    """With the default 16 windows of 512 tokens, a 1500-word page is labelled in full."""
    page = page_of(result)
    assert len(page["words"]) > 1000, len(page["words"])
    assert page["truncated_words"] == 0 and all(w["label"] is not None for w in page["words"])


CASES: tuple[Case, ...] = (
    Case("zero_bytes", "error", lambda: b"", stage="preprocess", reason="zero bytes"),
    Case(
        "random_bytes",
        "error",
        lambda: np.random.default_rng(0).bytes(4096),
        stage="preprocess",
        reason="not a known image format",
    ),
    Case("truncated_png", "error", lambda: good_png()[: len(good_png()) // 2], stage="preprocess", reason="truncated"),
    Case(
        "truncated_jpeg",
        "error",
        lambda: (j := encode(text_page(), "JPEG"))[: len(j) // 2],
        stage="preprocess",
        reason="truncated",
    ),
    Case(
        "text_named_png",
        "error",
        lambda: b"This is not a PNG, whatever its name (page.png) says.\n" * 20,
        stage="preprocess",
        reason="not a known image format",
    ),
    Case(
        "eps_postscript",
        "error",
        lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n",
        stage="preprocess",
        reason="not a known image format",
    ),  # never handed to Ghostscript
    Case(
        "over_byte_limit",
        "error",
        lambda: b"\x89PNG\r\n\x1a\n" + bytes(Limits().max_request_bytes),
        stage="preprocess",
        reason="the limit is",
    ),
    Case("truncated_pdf", "error", lambda: pdf()[:300], stage="preprocess", reason="cannot open pdf"),
    Case(
        "pdf_too_many_pages",
        "error",
        lambda: pdf(Limits().max_pdf_pages + 1),
        stage="preprocess",
        reason=f"the limit is {Limits().max_pdf_pages}",
    ),
    Case("one_pixel", "result", lambda: encode(Image.new("RGB", (1, 1), "white")), check=blank),
    Case("blank_white", "result", lambda: encode(Image.new("RGB", (850, 1100), "white")), check=blank),
    Case("all_black", "result", lambda: encode(Image.new("RGB", (850, 1100), "black")), check=no_entities),
    Case("bomb_30000x30000", "error", bomb_png, stage="preprocess", reason="pixels"),
    Case(
        "too_many_pixels",
        "error",
        lambda: encode(Image.new("1", (7000, 6000), 1)),
        stage="preprocess",
        reason="the limits are 40000000 pixels",
    ),
    Case(
        "too_wide",
        "error",
        lambda: encode(Image.new("1", (13_000, 20), 1)),
        stage="preprocess",
        reason="12000 per side",
    ),
    Case("tiff_16bit", "result", tiff_16bit, check=reads("INVOICE")),
    Case("cmyk_jpeg", "result", lambda: encode(text_page(mode="CMYK"), "JPEG", quality=95), check=reads("INVOICE")),
    Case("animated_gif", "result", animated_gif, check=reads("INVOICE", absent=("SECOND",))),
    Case("dense_page", "result", dense_page, check=covered),
    Case("wrong_input_name", "error", raw=raw_document(name="image"), stage=CORE, reason="unexpected inference input"),
    Case(
        "wrong_dtype",
        "error",
        raw=raw_document(dtype="FP32", array=np.zeros((1, 1), np.float32)),
        stage=CORE,
        reason="data-type",
    ),
    Case(
        "wrong_shape",
        "error",
        raw=raw_document(array=np.array([[b"a", b"b"]], dtype=object)),
        stage=CORE,
        reason="unexpected shape",
    ),
    Case("empty_batch", "error", raw=raw_document(array=np.zeros((0, 1), dtype=object)), stage=CORE, reason="got 0"),
    Case(
        "batch_with_one_bad",
        "error",
        raw=raw_document(array=np.array([[good_png()], [b"junk"]], dtype=object)),
        stage="preprocess",
        reason="not a known image format",
    ),
)
BY_NAME = {c.name: c for c in CASES}


# --- sending ------------------------------------------------------------------------
def request_parts(case: Case) -> tuple[str, str, np.ndarray]:
    if case.raw is not None:
        return case.raw()
    return contract.DOCUMENT.name, "BYTES", np.array([[case.document()]], dtype=object)


def send(url: str, case: Case | None = None, timeout_s: float = 60.0, parts=None) -> Outcome:
    """One request over gRPC with raw tritonclient; a server error becomes an Outcome."""
    import json

    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    name, dtype, array = parts or request_parts(case)
    item = grpcclient.InferInput(name, list(array.shape), dtype)
    item.set_data_from_numpy(array)
    with grpcclient.InferenceServerClient(url) as client:
        try:
            response = client.infer(
                contract.ENSEMBLE,
                [item],
                client_timeout=timeout_s,
                outputs=[grpcclient.InferRequestedOutput(contract.RESULT.name)],
            )
        except InferenceServerException as exc:
            return Outcome(status=str(exc.status()), message=exc.message() or str(exc))
    return Outcome(result=json.loads(response.as_numpy(contract.RESULT.name).reshape(-1)[0]))
