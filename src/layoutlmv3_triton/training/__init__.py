"""Fine-tune LayoutLMv3 for FUNSD-style token classification with PyTorch Lightning.

``data`` (LightningDataModule over FUNSD-format datasets), ``module`` (LightningModule with
seqeval entity F1), ``run`` (Trainer, checkpoints, from_pretrained output, summary),
``ocr_labels`` (optional: train on Tesseract's words labelled from the ground truth).
Importing this package imports torch and Lightning; the CLI imports it lazily.

May import: ``contract``, ``errors``, ``serving``, ``datasets``, ``synth``, ``export`` (the PP-OCR
models that OCR relabelling reads).
"""

from layoutlmv3_triton.training.config import SUMMARY_FILE, TrainConfig, TrainingError
from layoutlmv3_triton.training.run import train

__all__ = ["SUMMARY_FILE", "TrainConfig", "TrainingError", "train"]
