"""The PP-OCR engine's settings; each field is the preprocess parameter ``ppocr_<field>``."""

from __future__ import annotations

from dataclasses import dataclass

from layoutlmv3_triton.serving.parameters import ParameterSet

# PaddleOCR's DB post-processing settings, as rapidocr 3.10 ships them.
DEFAULT_DET_THRESHOLD = 0.3  # a map pixel above this is text
DEFAULT_BOX_THRESHOLD = 0.5  # a region whose mean probability is below this is dropped
DEFAULT_UNCLIP_RATIO = 1.6  # DB's maps shrink text regions; grow them back by area * ratio / perimeter
DEFAULT_MIN_LINE_SCORE = 0.5  # rapidocr's text_score: a line read with less mean confidence is dropped


@dataclass(frozen=True)
class PpocrConfig(ParameterSet):
    prefix = "ppocr_"
    # Detection reads the page scaled so that its ink lines are this tall (page_scale.py's
    # measure); never more than max_scale, less than min_scale, or over max_pixels.
    text_height: float = 15.0
    min_scale: float = 0.5
    max_scale: float = 4.0
    max_pixels: int = 6_000_000
    det_threshold: float = DEFAULT_DET_THRESHOLD
    box_threshold: float = DEFAULT_BOX_THRESHOLD
    unclip_ratio: float = DEFAULT_UNCLIP_RATIO
    min_line_score: float = DEFAULT_MIN_LINE_SCORE
    # Recognition: line crops are 48 px tall and padded on a width grid (recognition.py), at
    # least rec_min_width: PaddleOCR pads to 320, which reads no better on forms and costs a third
    # more CPU (docs/ocr.md).  A longer line is squeezed to rec_max_width.
    rec_min_width: int = 0
    rec_max_width: int = 2400
    rec_batch: int = 32  # crops per recognition request
    # Recognition cost grows with a crop's width: squeezing lines horizontally saves CPU but
    # reads worse (0.7: 3 points less box+text on FUNSD for 19% less CPU).
    rec_width_scale: float = 1.0
