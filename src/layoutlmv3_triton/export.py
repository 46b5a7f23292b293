"""LayoutLMv3ForTokenClassification -> ONNX, checked against PyTorch.

Only the dynamo exporter is used: the legacy TorchScript exporter gives a graph that is
wrong at any shape other than the traced one (max logit error ~0.5), so parity is
always checked at several (batch, seq) shapes, never just the traced one.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from . import contract
from .errors import ParityError

log = logging.getLogger(__name__)

PARITY_SHAPES = ((1, 64), (2, 128), (3, 200), (1, contract.MAX_SEQ_LEN))
DEFAULT_TOLERANCE = 1e-3
OPSET = 18


@dataclass
class ParityReport:
    shapes: list[tuple[int, int]]
    max_abs_diff: list[float]
    tolerance: float

    @property
    def worst(self) -> float:
        return max(self.max_abs_diff)

    def __str__(self) -> str:
        cells = ", ".join(f"{b}x{s}: {d:.2e}" for (b, s), d in zip(self.shapes, self.max_abs_diff))
        return f"max |logit diff| vs PyTorch (batch x seq): {cells} (tolerance {self.tolerance:g})"


def _wrapper(model):
    import torch

    class ByKeyword(torch.nn.Module):
        """pixel_values is not the 4th positional argument of LayoutLMv3: pass by name."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, bbox, pixel_values):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, bbox=bbox,
                              pixel_values=pixel_values).logits

    return ByKeyword(model).eval()


def sample_inputs(batch: int, seq: int, vocab_size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random but valid inputs: ordered boxes in 0..1000, a padded tail on odd rows."""
    rng = np.random.default_rng(seed + 1000 * batch + seq)
    ids = rng.integers(3, vocab_size, size=(batch, seq), dtype=np.int64)
    ids[:, 0] = 0
    mask = np.ones((batch, seq), dtype=np.int64)
    for row in range(1, batch, 2):
        mask[row, seq // 2:] = 0
        ids[row, seq // 2:] = 1
    corners = rng.integers(0, 1000, size=(batch, seq, 2, 2))
    bbox = np.concatenate([corners.min(axis=2), corners.max(axis=2)], axis=-1).astype(np.int64)
    pixels = rng.standard_normal((batch, 3, contract.IMAGE_SIZE, contract.IMAGE_SIZE)).astype(np.float32)
    return {"input_ids": ids, "attention_mask": mask, "bbox": bbox, "pixel_values": pixels}


def export_onnx(model, out_path: str | Path, opset: int = OPSET) -> Path:
    """Export with dynamic batch and sequence (seq <= 512) as a single self-contained file."""
    import torch
    from torch.export import Dim

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    wrapped = _wrapper(model)
    example = {k: torch.from_numpy(v) for k, v in sample_inputs(2, 128, model.config.vocab_size).items()}
    batch = Dim("batch", min=1, max=1024)
    seq = Dim("seq", min=2, max=contract.MAX_SEQ_LEN)
    dynamic_shapes = {
        "input_ids": {0: batch, 1: seq},
        "attention_mask": {0: batch, 1: seq},
        "bbox": {0: batch, 1: seq},
        "pixel_values": {0: batch},
    }
    start = time.perf_counter()
    with torch.no_grad():
        program = torch.onnx.export(
            wrapped, args=(), kwargs=example, dynamo=True, dynamic_shapes=dynamic_shapes,
            input_names=[t.name for t in contract.MODEL_INPUTS], output_names=[contract.LOGITS.name],
            opset_version=opset, verbose=False,
        )
    program.save(str(out_path), external_data=False)
    log.info("exported %s in %.1fs", out_path, time.perf_counter() - start)
    return out_path


def check_parity(model, onnx_path: str | Path, shapes: Sequence[tuple[int, int]] = PARITY_SHAPES,
                 tolerance: float = DEFAULT_TOLERANCE, threads: int = 0) -> ParityReport:
    """Compare ONNX Runtime with PyTorch; raise :class:`ParityError` past ``tolerance``."""
    import torch

    from .backends.onnx_model import OnnxTokenClassifier

    runner = OnnxTokenClassifier(onnx_path, threads)
    wrapped = _wrapper(model)
    diffs = []
    for batch, seq in shapes:
        inputs = sample_inputs(batch, seq, model.config.vocab_size)
        with torch.no_grad():
            expected = wrapped(**{k: torch.from_numpy(v) for k, v in inputs.items()}).numpy()
        got = runner.run(inputs)
        mask = inputs["attention_mask"].astype(bool)  # padded positions carry no meaning
        diffs.append(float(np.abs(got - expected)[mask].max()))
    report = ParityReport(list(shapes), diffs, tolerance)
    if report.worst > tolerance:
        raise ParityError(f"ONNX export drifts from PyTorch: {report}")
    return report
