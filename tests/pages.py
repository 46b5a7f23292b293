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


def text_pdf(pages: list[list[str]], size: tuple[int, int] = (612, 792), font_size: int = 14) -> bytes:
    """A born-digital PDF with a real text layer (Helvetica), one list of lines per page."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font_ref = 3 + 2 * len(pages)
    for i, lines in enumerate(pages):
        ops = [f"BT /F1 {font_size} Tf"]
        y = size[1] - 72
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"1 0 0 1 72 {y} Tm ({escaped}) Tj")
            y -= int(font_size * 1.8)
        ops.append("ET")
        stream = "\n".join(ops).encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {size[0]} {size[1]}] "
            f"/Resources << /Font << /F1 {font_ref} 0 R >> >> /Contents {4 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def image_pdf(image: Image.Image, resolution: float = 150.0) -> bytes:
    """A 'scanned' PDF: the page is only an image, no text layer."""
    buf = io.BytesIO()
    image.save(buf, "PDF", resolution=resolution)
    return buf.getvalue()


def dense_page(n_words: int = 1500, size: tuple[int, int] = (2000, 2700), font_size: int = 16):
    """A page packed with short words (a long document page): returns (image, truth)."""
    vocabulary = ["total", "amount", "date", "name", "invoice", "item", "price", "qty", "tax", "due", "ref", "code"]
    words = [str(i) if i % 7 == 6 else vocabulary[(i * 5) % len(vocabulary)] for i in range(n_words)]
    per_line = 20
    lines = [" ".join(words[i : i + per_line]) for i in range(0, n_words, per_line)]
    return render_lines(lines, size=size, font_size=font_size)
