"""Bounds on what one request may cost.  Defaults are safe for a public endpoint;
raise them through the model config parameters when you trust the input."""
from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Limits:
    max_request_bytes: int = 20 * 1024 * 1024
    max_image_pixels: int = 40_000_000  # about A4 at 600 dpi (4960 x 7016 = 34.8 MP)
    max_image_side: int = 12_000
    max_pdf_pages: int = 20

    @classmethod
    def from_parameters(cls, params: dict[str, str]) -> "Limits":
        """Build from Triton model-config parameters (string values); unknown keys are ignored."""
        kwargs = {f.name: int(params[f.name]) for f in fields(cls) if f.name in params}
        return cls(**kwargs)
