"""Bounds on what one request may cost.  Defaults are safe for a public endpoint;
raise them through the model config parameters when you trust the input.

Pillow refuses any image above about 179 MP whatever ``max_image_pixels`` says (and
warns, which :func:`~.images.decode_image` treats as a refusal, above about 89 MP), so
limits above those values have no effect.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from layoutlmv3_triton import contract
from layoutlmv3_triton.serving.parameters import ParameterSet


@dataclass(frozen=True)
class Limits(ParameterSet):
    max_request_bytes: int = 20 * 1024 * 1024
    max_image_pixels: int = 40_000_000  # about A4 at 600 dpi (4960 x 7016 = 34.8 MP)
    max_image_side: int = 12_000
    max_pdf_pages: int = 20
    # sequences (pages x windows) one request may need; also the model step's max batch
    max_windows: int = contract.DEFAULT_MAX_WINDOWS

    def __post_init__(self):
        # A zero or negative limit would silently refuse everything (or nothing): fail loudly at load.
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"limit {f.name} must be a positive integer, not {value!r}")
