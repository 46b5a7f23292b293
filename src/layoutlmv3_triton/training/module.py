"""The LightningModule: LayoutLMv3ForTokenClassification + AdamW + linear warmup + seqeval.

Why seqeval on first sub-tokens: that is FUNSD's official metric (entity-level F1 with
each word labelled by its first sub-token), and the served ensemble decodes words the
same way, so the validation F1 tracks what the server will do.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from layoutlmv3_triton.datasets.scoring import entity_scores
from layoutlmv3_triton.training.data import LABEL_PAD


def word_sequences(
    labels: torch.Tensor, logits: torch.Tensor, names: list[str]
) -> tuple[list[list[str]], list[list[str]]]:
    """Gold and predicted tag sequences per page, one tag per word (its first sub-token)."""
    preds = logits.argmax(-1)
    gold_seqs, pred_seqs = [], []
    for gold_row, pred_row in zip(labels.tolist(), preds.tolist()):
        keep = [(g, p) for g, p in zip(gold_row, pred_row) if g != LABEL_PAD]
        gold_seqs.append([names[g] for g, _ in keep])
        pred_seqs.append([names[p] for _, p in keep])
    return gold_seqs, pred_seqs


class TokenClassifier(L.LightningModule):
    """Wraps a HF model; the HF model stays the thing we save (``save_pretrained``)."""

    def __init__(
        self,
        model: Any,
        label_names: list[str],
        *,
        lr: float = 5e-5,
        weight_decay: float = 0.01,
        warmup_ratio: float = 0.1,
        total_steps: int = 1000,
    ):
        super().__init__()
        self.model = model
        self.label_names = list(label_names)
        self.lr, self.weight_decay = lr, weight_decay
        self.warmup_ratio, self.total_steps = warmup_ratio, max(1, total_steps)
        self.save_hyperparameters(
            {
                "lr": lr,
                "weight_decay": weight_decay,
                "warmup_ratio": warmup_ratio,
                "total_steps": total_steps,
                "labels": self.label_names,
            }
        )
        self._gold: list[list[str]] = []
        self._pred: list[list[str]] = []
        self.last_scores: dict[str, float] = {}

    def forward(self, **batch: torch.Tensor) -> Any:
        return self.model(**batch)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self.model(**batch).loss
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(batch["input_ids"]))
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        out = self.model(**batch)
        self.log("val_loss", out.loss, prog_bar=False, on_epoch=True, batch_size=len(batch["input_ids"]))
        gold, pred = word_sequences(batch["labels"], out.logits, self.label_names)
        self._gold.extend(gold)
        self._pred.extend(pred)

    def on_validation_epoch_start(self) -> None:
        self._gold, self._pred = [], []

    def on_validation_epoch_end(self) -> None:
        scores = entity_scores(self._gold, self._pred)["overall"]
        self.last_scores = scores
        self.log("val_precision", scores["precision"])
        self.log("val_recall", scores["recall"])
        self.log("val_f1", scores["f1"], prog_bar=True)

    def configure_optimizers(self) -> Any:
        from transformers import get_linear_schedule_with_warmup

        no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")
        params = [
            {
                "params": [p for n, p in self.model.named_parameters() if p.requires_grad and not n.endswith(no_decay)],
                "weight_decay": self.weight_decay,
            },
            {
                "params": [p for n, p in self.model.named_parameters() if p.requires_grad and n.endswith(no_decay)],
                "weight_decay": 0.0,
            },
        ]
        optimizer = torch.optim.AdamW(params, lr=self.lr)
        warmup = int(self.total_steps * self.warmup_ratio)
        scheduler = get_linear_schedule_with_warmup(optimizer, warmup, self.total_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
