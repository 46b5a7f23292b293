"""PDF pages: rendered with pypdfium2; words taken from the text layer where there is one.

A born-digital page has exact words and boxes in its text layer, so OCR is skipped:
faster and without recognition errors.  A scanned page (no text layer) is OCR'd.
"""

from __future__ import annotations

from layoutlmv3_triton.errors import BadImageError, ImageTooLargeError
from layoutlmv3_triton.serving.limits import Limits
from layoutlmv3_triton.serving.page import Page, Word

POINTS_PER_INCH = 72.0
DEFAULT_PDF_DPI = 150  # render resolution for PDF pages without a text layer


def load_pdf(data: bytes, limits: Limits = Limits(), dpi: float = DEFAULT_PDF_DPI) -> list[Page]:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise BadImageError(f"cannot open PDF: {exc}") from exc
    try:
        n_pages = len(document)
        if n_pages == 0:
            raise BadImageError("PDF has no pages")
        if n_pages > limits.max_pdf_pages:
            raise ImageTooLargeError(f"PDF has {n_pages} pages; the limit is {limits.max_pdf_pages}")
        return [_page(document[i], i, limits, dpi / POINTS_PER_INCH) for i in range(n_pages)]
    finally:
        document.close()


def _page(page, number: int, limits: Limits, scale: float) -> Page:
    width_pt, height_pt = page.get_size()
    width, height = round(width_pt * scale), round(height_pt * scale)
    if width * height > limits.max_image_pixels or max(width, height) > limits.max_image_side:
        raise ImageTooLargeError(
            f"PDF page renders to {width}x{height} pixels; the limits are "
            f"{limits.max_image_pixels} pixels and {limits.max_image_side} per side"
        )
    image = page.render(scale=scale).to_pil().convert("RGB")
    words = text_layer(page, scale, height_pt)
    if words:
        return Page(image, number, words, "pdf-text")
    return Page(image, number)


def text_layer(page, scale: float, height_pt: float) -> list[Word]:
    """Words with pixel boxes from the page's text layer (none for a scanned page)."""
    textpage = page.get_textpage()
    try:
        words: list[Word] = []
        chars: list[str] = []
        box: list[float] | None = None
        for index in range(textpage.count_chars()):
            char = textpage.get_text_range(index, 1)
            if not char or char.isspace() or char == "\ufffe":
                if chars:
                    words.append(Word("".join(chars), _to_pixels(box, scale, height_pt)))
                chars, box = [], None
                continue
            left, bottom, right, top = textpage.get_charbox(index)
            box = (
                [left, bottom, right, top]
                if box is None
                else [min(box[0], left), min(box[1], bottom), max(box[2], right), max(box[3], top)]
            )
            chars.append(char)
        if chars:
            words.append(Word("".join(chars), _to_pixels(box, scale, height_pt)))
        return words
    finally:
        textpage.close()


def _to_pixels(box: list[float], scale: float, height_pt: float) -> tuple[int, int, int, int]:
    """PDF points (origin bottom-left) -> pixels of the rendered page (origin top-left)."""
    left, bottom, right, top = box
    return (
        round(left * scale),
        round((height_pt - top) * scale),
        round(right * scale),
        round((height_pt - bottom) * scale),
    )
