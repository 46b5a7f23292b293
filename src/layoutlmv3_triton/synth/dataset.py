"""Pages to a Hugging Face dataset in FUNSD's column format, and back to disk.

Why FUNSD's format (id, tokens, bboxes 0..1000, ner_tags as ClassLabel, image): the
training code then reads synthetic pages, a local FUNSD copy or a hub dataset such as
``nielsr/funsd-layoutlmv3`` through one code path.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from layoutlmv3_triton.synth.content import page_seed, page_texts
from layoutlmv3_triton.synth.page import FUNSD_LABELS, SynthError, SynthPage
from layoutlmv3_triton.synth.render import render_page


def _render_one(job: tuple[int, int, dict]) -> SynthPage:
    seed, i, kw = job
    return render_page(page_seed(seed, i), page_id=f"{seed}-{i}", **kw)


def generate(n: int, seed: int, workers: int = 1, **kw: Any) -> Iterator[SynthPage]:
    """Pages ``0..n-1`` of run ``seed``; page ``i`` depends only on ``(seed, i)`` and ``kw``.

    ``workers`` > 1 renders in that many processes; the pages and their order are the same.
    """
    if n < 0:
        raise SynthError(f"n must be >= 0, got {n}")
    jobs = ((seed, i, kw) for i in range(n))
    if workers <= 1 or n < 8:
        yield from map(_render_one, jobs)
        return
    import multiprocessing

    with multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn").Pool(
        workers
    ) as pool:
        yield from pool.imap(_render_one, jobs, chunksize=4)


def corpus_texts(n: int = 200, seed: int = 0) -> list[str]:
    """Page texts for tokenizer training, without rendering (fast: no fonts, no pixels)."""
    return [page_texts(page_seed(seed, i)) for i in range(n)]


def features() -> Any:
    import datasets

    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "tokens": datasets.Sequence(datasets.Value("string")),
            "bboxes": datasets.Sequence(datasets.Sequence(datasets.Value("int64"))),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=FUNSD_LABELS)),
            "image": datasets.Image(),
            # per word, the id of its entity; and (question id, answer id) pairs: FUNSD's "linking"
            "entity_ids": datasets.Sequence(datasets.Value("int64")),
            "links": datasets.Sequence(datasets.Sequence(datasets.Value("int64"))),
        }
    )


def encode_image(page: SynthPage) -> bytes:
    """PNG for clean pages (lossless, ~90 kB); JPEG q90 for noisy ones, as scanners write them."""
    buf = io.BytesIO()
    if page.noisy:
        page.image.save(buf, format="JPEG", quality=90)
    else:
        page.image.save(buf, format="PNG")
    return buf.getvalue()


def to_dataset(pages: Iterable[SynthPage]) -> Any:
    """A ``datasets.Dataset`` with FUNSD columns.  Images are stored PNG-encoded.

    Encoding as we go keeps memory at a few tens of kB per page instead of the ~4 MB of
    a decoded 1000x1300 RGB page.
    """
    import datasets

    index = {name: i for i, name in enumerate(FUNSD_LABELS)}
    cols: dict[str, list] = {
        "id": [],
        "tokens": [],
        "bboxes": [],
        "ner_tags": [],
        "image": [],
        "entity_ids": [],
        "links": [],
    }
    for page in pages:
        bad = [label for label in page.labels if label not in index]
        if bad:
            raise SynthError(f"page {page.id}: labels outside FUNSD's set: {sorted(set(bad))}")
        cols["id"].append(page.id)
        cols["tokens"].append(list(page.words))
        cols["bboxes"].append(page.normalized_boxes())
        cols["ner_tags"].append([index[label] for label in page.labels])
        cols["image"].append({"bytes": encode_image(page), "path": None})
        cols["entity_ids"].append(list(page.entity_ids))
        cols["links"].append([list(link) for link in page.links])
    return datasets.Dataset.from_dict(cols, features=features())


def write_dataset(
    out_dir: str | Path, n: int, seed: int, *, previews: int = 0, progress: bool = False, workers: int = 1, **kw: Any
) -> Path:
    """Render ``n`` pages and ``save_to_disk`` them into ``out_dir``.

    ``previews`` pages are also written as PNGs (plain, and with labelled boxes drawn) under
    ``out_dir/previews`` so a person can look at what the model learns from.
    """
    out = Path(out_dir)
    pages: Iterable[SynthPage] = generate(n, seed, workers=workers, **kw)
    if progress:
        from tqdm.auto import tqdm

        pages = tqdm(pages, total=n, desc=f"synth {out.name}", unit="page")
    kept: list[SynthPage] = []

    def keep(it: Iterable[SynthPage]) -> Iterator[SynthPage]:
        for page in it:
            if len(kept) < previews:
                kept.append(page)
            yield page

    ds = to_dataset(keep(pages))
    out.mkdir(parents=True, exist_ok=True)
    ds.save_to_disk(str(out))
    if kept:
        write_previews(kept, out / "previews")
    (out / "synth.json").write_text(
        json.dumps({"n": n, "seed": seed, "options": kw, "labels": FUNSD_LABELS}, indent=2, sort_keys=True) + "\n"
    )
    return out


COLORS = {"HEADER": (200, 0, 200), "QUESTION": (0, 90, 255), "ANSWER": (0, 170, 0), "": (255, 120, 0)}


def write_previews(pages: Iterable[SynthPage], folder: Path) -> None:
    from PIL import ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    for page in pages:
        page.image.save(folder / f"{page.id}.png")
        boxed = page.image.copy()
        draw = ImageDraw.Draw(boxed)
        for box, label in zip(page.boxes, page.labels):
            draw.rectangle(box, outline=COLORS[label.partition("-")[2]], width=1)
        boxed.save(folder / f"{page.id}.boxes.png")


def sample_seed() -> int:
    """A fresh seed for callers that want new pages each run (the CLI prints it)."""
    return random.SystemRandom().randrange(2**31)
