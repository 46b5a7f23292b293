"""Turn untrusted bytes into an RGB page image, within :class:`~.limits.Limits`."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps

from layoutlmv3_triton.errors import BadImageError, ImageTooLargeError
from layoutlmv3_triton.serving.limits import Limits

# Formats a scanned page comes in.  Pillow would otherwise try every plugin it has,
# some of which run external programs (EPS runs Ghostscript) or parse rarely fuzzed
# formats: untrusted bytes only reach these well-trodden decoders.
# (Pillow's JPEG plugin also opens multi-picture MPO files.)
ACCEPTED_FORMATS = ("PNG", "JPEG", "TIFF", "BMP", "GIF", "WEBP")


def decode_image(data: bytes, limits: Limits = Limits()) -> Image.Image:
    """Decode an encoded image to 8-bit RGB.

    The size is checked from the header *before* the pixels are decoded, so a
    decompression bomb costs nothing.  Multi-frame images (animated GIF, multi-page
    TIFF) give their first frame.
    """
    if not data:
        raise BadImageError("empty document: the request carried zero bytes")
    if len(data) > limits.max_request_bytes:
        raise ImageTooLargeError(f"document is {len(data)} bytes; the limit is {limits.max_request_bytes}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
            width, height = image.size
            _check_size(width, height, limits)
            image.seek(0)
            image.load()
    except (BadImageError, ImageTooLargeError):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard (above ~89 MP) fires inside open(), before our check.
        raise ImageTooLargeError(
            f"image rejected before decoding as a decompression bomb ({exc}); " f"{_limits_text(limits)}"
        ) from exc
    except Image.UnidentifiedImageError as exc:
        raise BadImageError(
            f"cannot decode image: not a known image format ({len(data)} bytes; accepted: "
            f"{', '.join(ACCEPTED_FORMATS)})"
        ) from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise BadImageError(f"cannot decode image: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - decoders fed hostile bytes raise anything (KeyError, struct.error, ...)
        raise BadImageError(f"cannot decode image: {type(exc).__name__}: {exc}") from exc
    try:
        return to_rgb(ImageOps.exif_transpose(image))
    except Exception as exc:  # noqa: BLE001 - a malformed EXIF block or an odd mode is still the document's fault
        raise BadImageError(f"cannot convert image ({image.mode}) to RGB: {type(exc).__name__}: {exc}") from exc


def _check_size(width: int, height: int, limits: Limits) -> None:
    if width < 1 or height < 1:
        raise BadImageError(f"image has no pixels ({width}x{height})")
    if width > limits.max_image_side or height > limits.max_image_side or width * height > limits.max_image_pixels:
        raise ImageTooLargeError(f"image is {width}x{height} pixels; {_limits_text(limits)}")


def _limits_text(limits: Limits) -> str:
    return f"the limits are {limits.max_image_pixels} pixels and {limits.max_image_side} per side"


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB on white, whatever the source mode (16-bit, CMYK, palette, alpha)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # Scale high-bit-depth greyscale to 0..255 instead of clipping it to white.
        array = np.asarray(image, dtype=np.float64)
        lo, hi = float(array.min()), float(array.max())
        scaled = np.zeros_like(array) if hi <= lo else (array - lo) * (255.0 / (hi - lo))
        image = Image.fromarray(scaled.astype(np.uint8), mode="L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB") if image.mode != "RGB" else image
