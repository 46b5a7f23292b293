"""Pages rendered with known text, for tests: real pixels for real Tesseract."""
from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

FONT_CANDIDATES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVuSans.ttf")


def font(size: int = 28) -> ImageFont.FreeTypeFont:
    for name in FONT_CANDIDATES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def render_lines(lines: list[str], size: tuple[int, int] = (900, 600), font_size: int = 28):
    """A white page with known text; returns (image, [(word, pixel box)])."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    f = font(font_size)
    truth = []
    y = 40
    for line in lines:
        x = 40
        for word in line.split():
            box = draw.textbbox((x, y), word, font=f)
            draw.text((x, y), word, font=f, fill="black")
            truth.append((word, box))
            x = box[2] + draw.textlength(" ", font=f)
        y += int(font_size * 2)
    return image, truth


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


FORM_LINES = ["REGISTRATION FORM", "Name: John Smith", "Date: 2024-01-02", "Address: 12 Main Street Springfield"]
