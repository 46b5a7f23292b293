"""Bounds on what one request may cost.  Defaults are safe for a public endpoint;
raise them through the model config parameters when you trust the input.

Pillow refuses any image above about 179 MP whatever ``max_image_pixels`` says (and
warns, which :func:`~.images.decode_image` treats as a refusal, above about 89 MP), so
limits above those values have no effect.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from layoutlmv3_triton import contract


@dataclass(frozen=True)
class Limits:
    max_request_bytes: int = 20 * 1024 * 1024
    max_image_pixels: int = 40_000_000  # about A4 at 600 dpi (4960 x 7016 = 34.8 MP)
    max_image_side: int = 12_000
    max_pdf_pages: int = 20
    # sequences (pages x windows) one request may need; also the model step's max batch
    max_sequences: int = contract.DEFAULT_MAX_SEQUENCES

    def __post_init__(self):
        # A zero or negative limit would silently refuse everything (or nothing): fail loudly at load.
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"limit {f.name} must be a positive integer, not {value!r}")

    @classmethod
    def from_parameters(cls, params: dict[str, str]) -> "Limits":
        """Build from Triton model-config parameters (string values); unknown keys are ignored."""
        kwargs = {}
        for f in fields(cls):
            if f.name in params:
                try:
                    kwargs[f.name] = int(params[f.name])
                except ValueError:
                    raise ValueError(f"model parameter {f.name} must be an integer, not {params[f.name]!r}") from None
        return cls(**kwargs)
