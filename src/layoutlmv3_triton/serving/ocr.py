"""Tesseract in-process through tesserocr: one engine, created once and reused."""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from layoutlmv3_triton.contract import OCR_ENGINES
from layoutlmv3_triton.errors import OcrError
from layoutlmv3_triton.serving.page import Word
from layoutlmv3_triton.serving.page_scale import choose_scale, ink_fraction
from layoutlmv3_triton.serving.parameters import ParameterSet
from layoutlmv3_triton.serving.segments import DEFAULT_BOX_LEVEL, check_box_level
from layoutlmv3_triton.serving.word_split import split_words

TESSDATA_CANDIDATES = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)


# Tesseract's "sparse text" mode: find as much text as possible, in no particular layout.
# Forms are label/value pairs, boxes and table cells rather than paragraphs: on synthetic
# forms it found every ground-truth word (psm 3, automatic layout: 99.6%) and kept table
# words' boxes off the cell rules, for 6% more OCR time; served entity F1 0.944 -> 0.959.
DEFAULT_PSM = 11
# Measured on the 149 FUNSD forms (docs/ocr.md has every setting tried): words with the right
# box and text 0.572 -> 0.728, with the right box 0.808 -> 0.901, at 0.431 s of CPU a page
# (0.318 before), with all the defaults below as shipped.
DEFAULT_THRESHOLDING = 1  # adaptive Otsu: more words found on uneven scans than the global one
DEFAULT_TEXT_HEIGHT = 15.0  # FUNSD's ~100 dpi print is enlarged 1.2-1.9x; larger costs more, reads no better
DEFAULT_SPLIT_AFTER = "/-:"  # FUNSD's word convention, and merged "Date:12/1/89" label+value
# tessedit_do_invert=0: no second pass for white-on-black text: 8% less CPU, same words.
# thresholding_tile_size=0.66: adaptive Otsu's tiles twice the default size.  With the default,
# headings in large or bold type on clean digital pages vanished whole ("INVOICE NUMBER 4711");
# on every third FUNSD form it cost 0.5 points of box+text recall (0.723 -> 0.718); on all
# 149, in a later run, the shipped defaults read 0.728 / 0.901 (docs/ocr.md).
DEFAULT_VARIABLES = "tessedit_do_invert=0,thresholding_tile_size=0.66"
# Adaptive thresholding that makes more than this many times the global ink failed: use global.
ADAPTIVE_INK_LIMIT = 2.0


@dataclass(frozen=True)
class OcrConfig(ParameterSet):
    """The OCR engine and the settings of Tesseract and of both engines (box level, word splitting,
    minimum confidence); each field is the preprocess parameter ``ocr_<field>``."""

    prefix = "ocr_"
    # Which engine reads pages: "tesseract" (this module) or "ppocr" (serving/ppocr/, its own
    # ppocr_* settings); build-repo picks one per variant (serving/ocr_engines.py).
    engine: str = "tesseract"
    lang: str = "eng"
    psm: int = DEFAULT_PSM
    tessdata: str | None = None  # None: $TESSDATA_PREFIX, then the usual system folders
    min_confidence: float = 0.0
    # Tesseract's binarisation: 0 legacy Otsu, 1 adaptive Otsu (Leptonica), 2 Sauvola.
    thresholding_method: int = DEFAULT_THRESHOLDING
    # Enlarge the page until its ink lines are this tall (page_scale.py); 0: read at native size.
    text_height: float = DEFAULT_TEXT_HEIGHT
    max_scale: float = 4.0
    max_pixels: int = 12_000_000  # never enlarge a page beyond this: OCR cost grows with pixels
    # The box each word gives the model: its own, its line's or its block's (segments.py).
    # build-repo sets it from the model's config.json (`box_level`): the level it was trained at.
    box_level: str = DEFAULT_BOX_LEVEL
    # Split words after these characters when more text follows (12/4/87 -> 12/ 4/ 87): word_split.py.
    split_after: str = DEFAULT_SPLIT_AFTER
    # More Tesseract variables, "name=value" pairs separated by commas (tessedit_do_invert=0, ...).
    variables: str = DEFAULT_VARIABLES

    def __post_init__(self):
        check_box_level(self.box_level)
        if self.engine not in OCR_ENGINES:
            raise ValueError(f"ocr_engine must be one of {', '.join(OCR_ENGINES)}, not {self.engine!r}")

    def tesseract_variables(self) -> dict[str, str]:
        pairs = {"thresholding_method": str(self.thresholding_method)}
        for item in filter(None, (part.strip() for part in self.variables.split(","))):
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise OcrError(f"ocr_variables: expected name=value, got {item!r}", stage="ocr-setup")
            pairs[name.strip()] = value.strip()
        return pairs


def find_tessdata(explicit: str | None = None) -> str:
    """The explicit folder if given (no silent fallback), else $TESSDATA_PREFIX, else system folders."""
    candidates = (explicit,) if explicit else (os.environ.get("TESSDATA_PREFIX"), *TESSDATA_CANDIDATES)
    for candidate in candidates:
        if candidate and Path(candidate).is_dir() and any(Path(candidate).glob("*.traineddata")):
            return str(candidate)
    raise OcrError(
        "no Tesseract language data found; install tesseract-ocr-eng or set TESSDATA_PREFIX "
        f"(looked in {', '.join(c for c in candidates if c)})",
        stage="ocr-setup",
    )


class TesseractEngine:
    """One reusable Tesseract engine.  Not shareable across threads: guarded by a lock."""

    def __init__(self, config: OcrConfig = OcrConfig()):
        import tesserocr

        self.config = config
        self._tesserocr = tesserocr
        tessdata = find_tessdata(config.tessdata)
        try:
            # Variables go in at Init: some (load_system_dawg, ...) are read only then.
            variables = config.tesseract_variables()
            self._api = tesserocr.PyTessBaseAPI(
                path=tessdata.rstrip("/") + "/", lang=config.lang, psm=config.psm, variables=variables
            )
        except RuntimeError as exc:
            raise OcrError(
                f"cannot start Tesseract with lang={config.lang!r} in {tessdata}: {exc}", stage="ocr-setup"
            ) from exc
        unknown = [name for name in variables if self._api.GetVariableAsString(name) is None]
        if unknown:
            self._api.End()
            raise OcrError(f"Tesseract has no variables {unknown} (ocr_variables)", stage="ocr-setup")
        self._lock = threading.Lock()

    def read(self, image: Image.Image) -> list[Word]:
        """Words in reading order with pixel boxes (of ``image``), confidences (0..100) and line/block ids.

        The page is enlarged first when its text is small (``OcrConfig.text_height``); boxes
        are mapped back to ``image``'s pixels.
        """
        config = self.config
        scale = choose_scale(image, config.text_height, config.max_scale, config.max_pixels)
        work = image
        if scale != 1.0:
            work = image.convert("L").resize(
                (round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC
            )
        level = self._tesserocr.RIL.WORD
        words: list[Word] = []
        with self._lock:
            try:
                self._api.SetImage(work)
                if config.thresholding_method != 0 and self._adaptive_threshold_failed(image):
                    self._api.SetVariable("thresholding_method", "0")
                    self._api.SetImage(work)  # drops the binary image
                    self._api.GetThresholdedImage()  # thresholds globally now; Recognize keeps it
                    self._api.SetVariable("thresholding_method", str(config.thresholding_method))
                self._api.Recognize()
                iterator = self._api.GetIterator()
            except RuntimeError as exc:
                raise OcrError(f"Tesseract failed: {exc}") from exc
            if iterator is None:
                return words
            line = block = -1
            for item in self._tesserocr.iterate_level(iterator, level):
                if item.IsAtBeginningOf(self._tesserocr.RIL.BLOCK):
                    block += 1
                if item.IsAtBeginningOf(self._tesserocr.RIL.TEXTLINE):
                    line += 1
                try:
                    text = (item.GetUTF8Text(level) or "").strip()
                except RuntimeError:  # tesserocr raises "No text returned" on an empty page
                    continue
                bounds = item.BoundingBox(level)
                if not text or bounds is None:
                    continue
                confidence = float(item.Confidence(level))
                if confidence < config.min_confidence:
                    continue
                words.append(
                    Word(
                        text,
                        _unscale(bounds, scale, image.width, image.height),
                        round(confidence, 2),
                        max(line, 0),
                        max(block, 0),
                    )
                )
            self._api.Clear()
        return split_words(words, config.split_after)

    def read_pages(self, images: list[Image.Image]) -> list[list[Word]]:
        return [self.read(image) for image in images]

    def _adaptive_threshold_failed(self, image: Image.Image) -> bool:
        """True when adaptive thresholding made far more ink than a global threshold would.

        Leptonica's adaptive Otsu thresholds each tile on its own, so a blank tile of a
        textured or noisy background turns into a field of specks (a sample page went from
        120 words to 410 of garbage).  On real forms it makes 0.72-0.87 of the global ink;
        on that page, 8.7 times.  The binary image is kept for Recognize, so this costs only
        the comparison (the global share is taken on the page at its own size, ``image``).
        """
        binary = np.asarray(self._api.GetThresholdedImage())[::2, ::2]  # a sample is enough for a share
        adaptive = float((binary < 128).mean()) if binary.size else 0.0
        return adaptive > ADAPTIVE_INK_LIMIT * ink_fraction(np.asarray(image.convert("L")))

    def close(self) -> None:
        with self._lock:
            self._api.End()

    def __enter__(self) -> TesseractEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _unscale(bounds, scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    """A box on the enlarged page back in the original page's pixels (clamped to the page)."""
    if scale == 1.0:
        return tuple(int(v) for v in bounds)  # type: ignore[return-value]
    x0, y0, x1, y1 = (v / scale for v in bounds)
    return (max(0, math.floor(x0)), max(0, math.floor(y0)), min(width, math.ceil(x1)), min(height, math.ceil(y1)))
