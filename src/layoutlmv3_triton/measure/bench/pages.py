"""The benchmark's pages: synthetic forms rendered once and saved as PNG, or the user's own
page images (``bench --pages-dir``), read as bytes.

Every measured system gets exactly these encoded bytes, so image decoding is part of
every measurement, and perf_analyzer sends the same files (``--input-data``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from layoutlmv3_triton import contract


@dataclass(frozen=True)
class BenchPage:
    index: int
    path: Path
    data: bytes
    width: int
    height: int
    truth_words: int | None  # words the renderer drew (None: a user's page)

    @property
    def name(self) -> str:
        return self.path.name


def render_pages(count: int, out_dir: Path, first_seed: int = 0) -> list[BenchPage]:
    """Render ``count`` form pages (seeds ``first_seed``...) as PNG files into ``out_dir``."""
    from layoutlmv3_triton.synth import render_page

    if count < 1:
        raise ValueError("need at least one page")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pages = []
    for i in range(count):
        page = render_page(first_seed + i)
        buf = io.BytesIO()
        page.image.save(buf, "PNG", optimize=False)
        data = buf.getvalue()
        path = out_dir / f"page_{i:03d}.png"
        path.write_bytes(data)
        pages.append(BenchPage(i, path, data, page.image.width, page.image.height, len(page.words)))
    return pages


def read_pages_dir(folder: Path, count: int | None = None) -> list[BenchPage]:
    """The first ``count`` images in ``folder`` (all when None), in name order, sent as they are stored."""
    from PIL import Image

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"--pages-dir {folder} is not a folder")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in contract.IMAGE_SUFFIXES)
    if count is not None:
        paths = paths[:count]
    if not paths:
        raise ValueError(f"no page images ({', '.join(contract.IMAGE_SUFFIXES)}) in {folder}")
    pages = []
    for i, path in enumerate(paths):
        with Image.open(path) as image:
            width, height = image.size
        pages.append(BenchPage(i, path, path.read_bytes(), width, height, None))
    return pages
