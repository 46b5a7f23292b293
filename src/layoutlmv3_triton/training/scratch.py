"""Build a LayoutLMv3 token classifier from nothing: tokenizer, processor, random weights.

Why: these machines cannot download ``microsoft/layoutlmv3-base``, yet every part of the
project (training, ONNX export, the Triton repository, the tests) needs a real
``LayoutLMv3ForTokenClassification`` with a real ``LayoutLMv3Processor``.  This module
makes both offline, with transformers' own classes, so that what is served is exactly
what a user with hub access would fine-tune and serve.

Heavy libraries (tokenizers, transformers, torch) are imported inside the functions.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from layoutlmv3_triton.errors import LayoutLMv3TritonError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch
    from transformers import (
        LayoutLMv3ForTokenClassification,
        LayoutLMv3Processor,
        LayoutLMv3TokenizerFast,
    )

# Special tokens in RoBERTa order, so that <pad> has id 1 as LayoutLMv3 expects
# (its position ids start after padding_idx=1).
SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
PAD_TOKEN_ID = 1
MAX_POSITION_EMBEDDINGS = 514  # 512 usable positions + padding offset
INPUT_SIZE = 224
PATCH_SIZE = 16

PRESETS: dict[str, dict[str, int]] = {
    # For tests and the tiny demo repository: trains in seconds, a few hundred kB.
    "tiny": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128},
    # The demo model: learns synthetic forms in minutes on 2 CPU cores.
    "small": {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024},
    # Same shape as microsoft/layoutlmv3-base (random weights).
    "base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
}


class ScratchError(LayoutLMv3TritonError, ValueError):
    """A from-scratch build was asked for something that cannot be built."""


def train_tokenizer(texts: Iterable[str], vocab_size: int = 4000) -> LayoutLMv3TokenizerFast:
    """Train a byte-level BPE on ``texts`` and wrap it as a LayoutLMv3 tokenizer.

    Byte-level BPE (as in RoBERTa/LayoutLMv3) never produces ``<unk>``, so OCR words
    that the corpus never saw still encode.  ``add_prefix_space=True`` is required for
    pre-split words, which is how LayoutLMv3 is always called.
    """
    from tokenizers import ByteLevelBPETokenizer
    from transformers import LayoutLMv3TokenizerFast

    if vocab_size < len(SPECIAL_TOKENS) + 256:
        raise ScratchError(
            f"vocab_size must be at least {len(SPECIAL_TOKENS) + 256} (specials + bytes), got {vocab_size}"
        )
    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise ScratchError("cannot train a tokenizer on an empty corpus")
    bpe = ByteLevelBPETokenizer(add_prefix_space=True)
    bpe.train_from_iterator(
        texts, vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIAL_TOKENS, show_progress=False
    )
    model = json.loads(bpe.to_str())["model"]
    vocab: dict[str, int] = model["vocab"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in model["merges"]]
    for i, tok in enumerate(SPECIAL_TOKENS):
        if vocab.get(tok) != i:
            raise ScratchError(f"special token {tok} got id {vocab.get(tok)}, expected {i}")
    return LayoutLMv3TokenizerFast(vocab=vocab, merges=merges, add_prefix_space=True)


def make_image_processor() -> Any:
    """LayoutLMv3's image processor with OCR off: the project runs Tesseract itself.

    transformers 5 offers a Pillow-only variant; prefer it because torchvision is not
    installed here and the torchvision-backed one would refuse to load.
    """
    import transformers

    cls = getattr(transformers, "LayoutLMv3ImageProcessorPil", None)
    if cls is not None:
        try:
            return cls(apply_ocr=False)
        except ImportError:  # pragma: no cover - depends on installed backends
            pass
    return transformers.LayoutLMv3ImageProcessor(apply_ocr=False)


def make_processor(tokenizer: Any) -> LayoutLMv3Processor:
    """Pair ``tokenizer`` with an OCR-free image processor."""
    from transformers import LayoutLMv3Processor

    return LayoutLMv3Processor(image_processor=make_image_processor(), tokenizer=tokenizer)


def make_config(preset: str, labels: Sequence[str], vocab_size: int) -> Any:
    """A LayoutLMv3Config for ``preset`` with the label maps set.

    The 2D position embeddings concatenate four coordinate and two shape embeddings, so
    ``4*coordinate_size + 2*shape_size`` must equal ``hidden_size``.
    """
    from transformers import LayoutLMv3Config

    if preset not in PRESETS:
        raise ScratchError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    labels = list(labels)
    if not labels or len(set(labels)) != len(labels):
        raise ScratchError(f"labels must be non-empty and unique, got {labels}")
    p = PRESETS[preset]
    hidden = p["hidden_size"]
    shape = hidden // 8
    coordinate = (hidden - 2 * shape) // 4
    if 4 * coordinate + 2 * shape != hidden:
        raise ScratchError(f"hidden_size {hidden} cannot split into 4 coordinate + 2 shape embeddings")
    return LayoutLMv3Config(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=p["num_hidden_layers"],
        num_attention_heads=p["num_attention_heads"],
        intermediate_size=p["intermediate_size"],
        max_position_embeddings=MAX_POSITION_EMBEDDINGS,
        pad_token_id=PAD_TOKEN_ID,
        bos_token_id=0,
        eos_token_id=2,
        coordinate_size=coordinate,
        shape_size=shape,
        input_size=INPUT_SIZE,
        patch_size=PATCH_SIZE,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )


def sinusoid_table(n_positions: int, dim: int, std: float) -> torch.Tensor:
    """Transformer-style sin/cos encodings of 0..n_positions-1, scaled to standard deviation ``std``."""
    import math

    import torch

    pos = torch.arange(n_positions, dtype=torch.float32)[:, None]
    k = torch.arange(0, dim, 2, dtype=torch.float32)
    freq = torch.exp(-math.log(10000.0) * k / dim)
    table = torch.zeros(n_positions, dim)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return table * (std * math.sqrt(2.0))


LAYOUT_INIT_GAIN = 2.5  # layout tables start this many times louder than token embeddings


def init_layout_embeddings(model: Any, gain: float = LAYOUT_INIT_GAIN, text_positions: bool = True) -> None:
    """Start the 1D and 2D position tables as sinusoids instead of noise.

    Why: a randomly initialised table must see every coordinate value (0..1023) before it
    means anything, so a model trained from scratch on a few hundred pages generalises
    poorly across positions.  Sinusoids make nearby coordinates similar from step one, and
    their dot products depend on coordinate differences, which is what tells the model
    whether two words are neighbours in one field (``I-``) or start a new one (``B-``).
    The tables stay trainable.  The 2D tables start ``gain`` times louder than the word
    embeddings so that early training leans on layout rather than memorising words.
    ``text_positions`` False leaves the 1D table alone (copied from a text model).
    """
    import torch

    emb = model.layoutlmv3.embeddings
    std = model.config.initializer_range
    tables = [
        (emb.x_position_embeddings, gain),
        (emb.y_position_embeddings, gain),
        (emb.h_position_embeddings, gain),
        (emb.w_position_embeddings, gain),
    ]
    if text_positions:
        tables.append((emb.position_embeddings, 1.0))
    with torch.no_grad():
        for table, g in tables:
            table.weight.copy_(sinusoid_table(table.num_embeddings, table.embedding_dim, std * g))
            if table.padding_idx is not None:
                table.weight[table.padding_idx].zero_()


def seeded_model(config: Any, seed: int) -> LayoutLMv3ForTokenClassification:
    """A LayoutLMv3ForTokenClassification with weights drawn from ``seed``; torch's global RNG is left as it was."""
    import torch
    from transformers import LayoutLMv3ForTokenClassification

    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return LayoutLMv3ForTokenClassification(config)
    finally:
        torch.random.set_rng_state(state)


def init_model(
    preset: str, labels: Sequence[str], vocab_size: int, seed: int = 0, sinusoidal_layout: bool = True
) -> LayoutLMv3ForTokenClassification:
    """A randomly initialised LayoutLMv3ForTokenClassification, reproducible by ``seed``.

    ``sinusoidal_layout`` starts the position tables as sinusoids (see
    :func:`init_layout_embeddings`); the architecture is unchanged either way.
    """
    model = seeded_model(make_config(preset, labels, vocab_size), seed)
    if sinusoidal_layout:
        init_layout_embeddings(model)
    model.eval()
    return model


def build_from_scratch(
    out_dir: str | pathlib.Path,
    texts: Iterable[str],
    labels: Sequence[str],
    preset: str = "tiny",
    vocab_size: int = 4000,
    seed: int = 0,
) -> pathlib.Path:
    """Train a tokenizer on ``texts``, initialise a model and save both into ``out_dir``.

    The folder then loads with ``from_pretrained`` for both the model and the processor,
    which is the format the rest of the project (train, build-repo) consumes.
    """
    out = pathlib.Path(out_dir)
    tokenizer = train_tokenizer(texts, vocab_size=vocab_size)
    processor = make_processor(tokenizer)
    model = init_model(preset, labels, vocab_size=len(tokenizer), seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def random_model(preset: str, out_dir: str | pathlib.Path) -> pathlib.Path:
    """A randomly initialised model with a tokenizer trained on synthetic form text: the
    shape and cost of a real one, for benchmarks and plumbing checks."""
    from layoutlmv3_triton.synth import FUNSD_LABELS, corpus_texts

    return build_from_scratch(out_dir, corpus_texts(200, seed=0), FUNSD_LABELS, preset=preset, vocab_size=2000)
