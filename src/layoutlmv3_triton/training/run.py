"""One training run: data -> model -> Lightning Trainer -> a from_pretrained folder + summary.

Why save a from_pretrained folder (not only a Lightning checkpoint): ``build-repo``,
the notebook and any transformers user load it with ``from_pretrained``; the labels travel
in ``config.json`` (id2label), which the served ensemble reads.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

from layoutlmv3_triton.training.config import (
    SUMMARY_FILE,
    TrainConfig,
    TrainingError,
    cached_summary,
    resolve_precision,
    run_fingerprint,
)


def _load_data(cfg: TrainConfig) -> tuple[Any, Any, str]:
    """Train and validation splits, and where validation came from."""
    from layoutlmv3_triton.training.data import load_split, split_off

    train = load_split(data=cfg.data, dataset=cfg.dataset, split="train")
    if cfg.limit_train:
        train = train.select(range(min(cfg.limit_train, len(train))))
    if cfg.val_data:
        return train, load_split(data=cfg.val_data, split="validation"), "val-data"
    if cfg.dataset:
        try:
            return train, load_split(dataset=cfg.dataset, split="test"), "dataset-test-split"
        except Exception:  # no held-out split on the hub: hold some pages out below
            pass
    train, val = split_off(train, cfg.val_fraction, cfg.seed)
    return train, val, f"held out {cfg.val_fraction:.0%} of train"


def _model_and_processor(cfg: TrainConfig, labels: list[str], train_ds: Any) -> tuple[Any, Any]:
    if cfg.init_from:
        from layoutlmv3_triton.training.text_init import TextInitError, init_from_text_model

        try:
            model, processor, _ = init_from_text_model(cfg.init_from, labels, seed=cfg.seed)
        except TextInitError as exc:
            raise TrainingError(f"--init-from {cfg.init_from}: {exc}") from exc
        return model, processor
    if cfg.from_scratch:
        from layoutlmv3_triton.training import scratch

        texts = [" ".join(tokens) for tokens in train_ds["tokens"]]
        if cfg.tokenizer_corpus == "broad":  # real pages use far more words than the training pages show
            from layoutlmv3_triton.synth.words import english_corpus

            texts += english_corpus()
        tokenizer = scratch.train_tokenizer(texts, vocab_size=cfg.vocab_size)
        processor = scratch.make_processor(tokenizer)
        model = scratch.init_model(cfg.preset, labels, vocab_size=len(tokenizer), seed=cfg.seed)
        return model, processor
    from transformers import LayoutLMv3ForTokenClassification, LayoutLMv3Processor

    try:
        processor = LayoutLMv3Processor.from_pretrained(cfg.model, apply_ocr=False)
        model = LayoutLMv3ForTokenClassification.from_pretrained(
            cfg.model,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={name: i for i, name in enumerate(labels)},
            ignore_mismatched_sizes=True,
        )
    except OSError as exc:
        raise TrainingError(
            f"cannot load model {cfg.model!r} (a from_pretrained folder or hub name; "
            f"offline, use --from-scratch): {exc}"
        ) from exc
    return model, processor


def _loggers(out: Path) -> list[Any]:
    from lightning.pytorch.loggers import CSVLogger

    loggers: list[Any] = [CSVLogger(save_dir=str(out), name="logs", version="")]
    if _tensorboard_available():
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(save_dir=str(out), name="logs", version="tensorboard"))
    return loggers


def _tensorboard_available() -> bool:
    import importlib.util

    return any(importlib.util.find_spec(m) is not None for m in ("tensorboard", "tensorboardX"))


def train(cfg: TrainConfig) -> dict:
    """Run training as configured; return the summary (also written to ``out``)."""
    cfg.validate()
    started = time.monotonic()
    import lightning as L
    import torch

    from layoutlmv3_triton.training.data import FunsdDataModule, fingerprint, label_names

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    train_ds, val_ds, val_source = _load_data(cfg)
    fps = {"train": fingerprint(train_ds), "val": fingerprint(val_ds)}
    if cfg.init_from:  # the starting weights are an input like the data
        from layoutlmv3_triton.training.text_init import TextInitError, locate

        try:
            fps["init_from"] = locate(cfg.init_from).fingerprint()
        except TextInitError as exc:
            raise TrainingError(f"--init-from {cfg.init_from}: {exc}") from exc
    run_fp = run_fingerprint(cfg, fps)
    out = Path(cfg.out)
    if cfg.skip_if_unchanged:
        cached = cached_summary(out, run_fp)
        if cached is not None:
            return {**cached, "skipped": True}
    labels = label_names(train_ds)
    if label_names(val_ds) != labels:
        raise TrainingError(f"validation labels {label_names(val_ds)} differ from training labels {labels}")

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    model, processor = _model_and_processor(cfg, labels, train_ds)
    if cfg.freeze_word_embeddings:  # the optimiser skips frozen parameters (module.configure_optimizers)
        model.get_input_embeddings().weight.requires_grad_(False)
    if cfg.ocr_words > 0:
        from layoutlmv3_triton.training.ocr_labels import relabel_with_ocr

        train_ds = relabel_with_ocr(
            train_ds, fraction=cfg.ocr_words, seed=cfg.seed, progress=cfg.progress, engine=cfg.ocr_engine
        )
    dm = FunsdDataModule(
        train_ds,
        val_ds,
        processor,
        batch_size=cfg.batch_size,
        max_length=cfg.max_length,
        token_dropout=cfg.token_dropout,
        box_jitter=cfg.box_jitter,
        box_level=cfg.box_level,
    )
    dm.setup("fit")
    steps_per_epoch = math.ceil(len(dm.train_items) / cfg.batch_size)
    module = _module(cfg, model, labels, steps_per_epoch)

    out.mkdir(parents=True, exist_ok=True)
    ckpt_dir = out / ".checkpoints"
    checkpoint, trainer, precision = _trainer(cfg, out, ckpt_dir, steps_per_epoch)
    trainer.fit(module, datamodule=dm)
    best_f1, scores = _final_scores(cfg, module, checkpoint, trainer, dm)

    model = _save(cfg, module, processor, labels, out)
    if not cfg.keep_checkpoints:
        shutil.rmtree(ckpt_dir, ignore_errors=True)

    summary = {
        "fingerprint": run_fp,
        "best_val_f1": round(best_f1, 6),
        "val_precision": round(scores["precision"], 6),
        "val_recall": round(scores["recall"], 6),
        "val_f1": round(scores["f1"], 6),
        "epochs": trainer.current_epoch,
        "global_steps": trainer.global_step,
        "seconds": round(time.monotonic() - started, 1),
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_pages": len(train_ds),
        "val_pages": len(val_ds),
        "val_source": val_source,
        "labels": labels,
        "dataset_fingerprints": fps,
        "model": cfg.model or (f"init-from:{cfg.init_from}" if cfg.init_from else f"from-scratch:{cfg.preset}"),
        **_environment(cfg, precision),
        "skipped": False,
    }
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def _module(cfg: TrainConfig, model: Any, labels: list[str], steps_per_epoch: int) -> Any:
    """The Lightning module around ``model``, its learning-rate schedule sized to the run."""
    from layoutlmv3_triton.training.module import TokenClassifier

    total_steps = cfg.max_steps if cfg.max_steps > 0 else steps_per_epoch * cfg.epochs
    model.train()  # from_pretrained / init_model return eval mode; Lightning keeps submodule modes
    return TokenClassifier(
        model,
        labels,
        lr=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        warmup_ratio=cfg.warmup_ratio,
        total_steps=total_steps,
    )


def _trainer(cfg: TrainConfig, out: Path, ckpt_dir: Path, steps_per_epoch: int) -> tuple[Any, Any, str]:
    """(best-checkpoint callback, Lightning Trainer, resolved precision) for this run."""
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, TQDMProgressBar

    checkpoint = ModelCheckpoint(
        dirpath=str(ckpt_dir), filename="best", monitor="val_f1", mode="max", save_top_k=1, save_weights_only=True
    )
    callbacks: list[Any] = [
        checkpoint,
        EarlyStopping(
            monitor="val_f1", mode="max", patience=cfg.patience, check_on_train_epoch_end=False, strict=False
        ),
    ]
    if cfg.progress:
        callbacks.append(TQDMProgressBar(refresh_rate=5))
    loggers = _loggers(out)
    precision = resolve_precision(cfg.precision)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*number of training batches.*")
    trainer = L.Trainer(
        max_epochs=cfg.epochs if cfg.max_steps <= 0 else -1,
        max_steps=cfg.max_steps,
        max_time={"minutes": cfg.max_minutes} if cfg.max_minutes else None,
        accelerator="auto",
        devices=1,
        precision=precision,
        callbacks=callbacks,
        logger=loggers,
        enable_progress_bar=cfg.progress,
        enable_model_summary=cfg.progress,
        num_sanity_val_steps=0,
        log_every_n_steps=max(1, min(10, steps_per_epoch)),
        deterministic=False,
    )
    return checkpoint, trainer, precision


def _final_scores(cfg: TrainConfig, module: Any, checkpoint: Any, trainer: Any, dm: Any) -> tuple[float, dict]:
    """(best validation F1, the kept model's validation scores), after loading the best checkpoint."""
    import torch

    if cfg.max_steps > 0:  # a fixed number of steps: the model is the last step's, whatever the machine
        best_f1 = None
    elif checkpoint.best_model_path and Path(checkpoint.best_model_path).exists():
        state = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
        best_f1 = float(checkpoint.best_model_score)
    else:  # stopped before any validation
        best_f1 = None
    trainer.validate(module, datamodule=dm, verbose=False)
    scores = dict(module.last_scores)
    return (scores["f1"] if best_f1 is None else best_f1), scores


def _save(cfg: TrainConfig, module: Any, processor: Any, labels: list[str], out: Path) -> Any:
    """Write the trained model and processor to ``out`` as a from_pretrained folder; return the model."""
    model = module.model.to("cpu").eval()
    model.config.id2label = dict(enumerate(labels))
    model.config.label2id = {name: i for i, name in enumerate(labels)}
    from layoutlmv3_triton.serving.segments import BOX_LEVEL_KEY

    setattr(model.config, BOX_LEVEL_KEY, cfg.box_level)  # build-repo serves the boxes the model was trained on
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return model


def _environment(cfg: TrainConfig, precision: str) -> dict:
    """The summary's options, versions and machine: what a rerun needs to match."""
    import dataclasses

    import lightning
    import torch
    import transformers

    from layoutlmv3_triton import __version__

    return {
        "options": {k: v for k, v in dataclasses.asdict(cfg).items() if k != "progress"},
        "versions": {
            "layoutlmv3_triton": __version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "lightning": lightning.__version__,
        },
        "precision": precision,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }
