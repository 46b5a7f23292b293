"""Synthetic FUNSD-style form pages, rendered with Pillow and reproducible by seed.

Why: no FUNSD download is possible here, yet the served model must be trained and scored
end to end.  Pages carry every word's text, tight pixel box and FUNSD label, and are
rendered so that Tesseract (used at serving time) reads the same words.

Modules: ``wordlists`` (plain word lists), ``words`` (frequency-true English), ``vocab``
(generators of questions and answers), ``content`` (what a page says), ``layout`` (where it goes),
``render`` (pixels and noise), ``dataset`` (FUNSD-format ``datasets.Dataset``).

May import: ``contract``, ``errors`` (nothing else of the package).
"""

from layoutlmv3_triton.synth.content import page_seed
from layoutlmv3_triton.synth.dataset import corpus_texts, generate, to_dataset, write_dataset
from layoutlmv3_triton.synth.page import FUNSD_LABELS, SynthError, SynthPage
from layoutlmv3_triton.synth.render import render_page

__all__ = [
    "FUNSD_LABELS",
    "SynthError",
    "SynthPage",
    "corpus_texts",
    "generate",
    "page_seed",
    "render_page",
    "to_dataset",
    "write_dataset",
]
