"""LayoutLMv3ForTokenClassification -> ONNX, checked against PyTorch.

Only the dynamo exporter is used: the legacy TorchScript exporter gives a graph that is
wrong at any shape other than the traced one (max logit error ~0.5), so parity is
always checked at several (batch, seq) shapes, never just the traced one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from layoutlmv3_triton import contract
from layoutlmv3_triton.export.parity import PARITY_SHAPES, ParityReport, compare, sample_inputs

log = logging.getLogger(__name__)

DEFAULT_TOLERANCE = 1e-3
OPSET = 18


def _wrapper(model):
    import torch

    class ByKeyword(torch.nn.Module):
        """pixel_values is not the 4th positional argument of LayoutLMv3: pass by name.
        ``forward``'s argument names key ``dynamic_shapes``: they are the contract's
        ``MODEL_INPUTS`` names, in order."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, bbox, pixel_values):
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, bbox=bbox, pixel_values=pixel_values
            ).logits

    return ByKeyword(model).eval()


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
    # Keyed by the wrapper's argument names, which are the contract's tensor names.
    dynamic_shapes = {t.name: {0: batch, 1: seq} for t in (contract.INPUT_IDS, contract.ATTENTION_MASK, contract.BBOX)}
    dynamic_shapes[contract.PIXEL_VALUES.name] = {0: batch}
    start = time.perf_counter()
    with torch.no_grad():
        program = torch.onnx.export(
            wrapped,
            args=(),
            kwargs=example,
            dynamo=True,
            dynamic_shapes=dynamic_shapes,
            input_names=[t.name for t in contract.MODEL_INPUTS],
            output_names=[contract.LOGITS.name],
            opset_version=opset,
            verbose=False,
        )
    program.save(str(out_path), external_data=False)
    _rewrite(out_path)
    log.info("exported %s in %.1fs", out_path, time.perf_counter() - start)
    return out_path


def _rewrite(path: Path) -> None:
    """The graph passes that keep results exact and save CPU (graph_passes.py)."""
    import onnx

    from layoutlmv3_triton.export.graph_passes import gather_whole_rows

    model = onnx.load(str(path))
    if gather_whole_rows(model):
        onnx.save(model, str(path))


def check_parity(
    model,
    onnx_path: str | Path,
    shapes: Sequence[tuple[int, int]] = PARITY_SHAPES,
    tolerance: float = DEFAULT_TOLERANCE,
    threads: int = 0,
) -> ParityReport:
    """Compare ONNX Runtime with PyTorch; raise :class:`ParityError` past ``tolerance``."""
    import torch

    from layoutlmv3_triton.serving.onnx_classifier import OnnxTokenClassifier

    runner = OnnxTokenClassifier(onnx_path, threads)
    wrapped = _wrapper(model)

    def reference(inputs):
        with torch.no_grad():
            return wrapped(**{k: torch.from_numpy(v) for k, v in inputs.items()}).numpy()

    report = ParityReport("ONNX Runtime vs PyTorch", atol=tolerance)
    compare(report, reference, runner.run, shapes, model.config.vocab_size)
    return report.raise_if_drifting("ONNX export drifts from PyTorch")


# --- optional INT8 variant ---------------------------------------------------------------
# Dynamic quantization: weights of MatMul/Gemm stored as int8, activations quantized on
# the fly per batch.  No calibration data is needed; the accuracy cost is measured
# against the fp32 graph (logit difference and argmax label agreement) and reported.
QUANTIZE_MODES = ("int8",)
# The patch-embedding Conv stays fp32: quantizing it too gained no speed and lost accuracy, and
# per-channel weight scales halve the label disagreement for the same speed (docs/performance.md).
QUANTIZE_OP_TYPES = ("MatMul", "Gemm")


@dataclass
class QuantizationReport:
    mode: str
    shapes: list[tuple[int, int]]
    max_abs_diff: list[float]
    label_agreement: list[float]  # fraction of non-padding tokens whose argmax label matches fp32
    fp32_bytes: int
    quantized_bytes: int

    @property
    def worst_diff(self) -> float:
        return max(self.max_abs_diff)

    @property
    def min_agreement(self) -> float:
        return min(self.label_agreement)

    def as_dict(self) -> dict:
        return {
            "mode": self.mode,
            "shapes": [list(s) for s in self.shapes],
            "max_abs_diff": self.max_abs_diff,
            "label_agreement": self.label_agreement,
            "fp32_bytes": self.fp32_bytes,
            "quantized_bytes": self.quantized_bytes,
        }

    def __str__(self) -> str:
        cells = ", ".join(
            f"{b}x{s}: {d:.3f} / {a:.1%}" for (b, s), d, a in zip(self.shapes, self.max_abs_diff, self.label_agreement)
        )
        return (
            f"{self.mode} vs fp32, max |logit diff| / label agreement (batch x seq): {cells}; "
            f"size {self.fp32_bytes / 1e6:.0f} MB -> {self.quantized_bytes / 1e6:.0f} MB"
        )


def quantize_onnx(fp32_path: str | Path, out_path: str | Path, mode: str = "int8") -> Path:
    """Write the dynamically quantized variant of ``fp32_path`` to ``out_path``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if mode not in QUANTIZE_MODES:
        raise ValueError(f"unknown quantization {mode!r}; choose from {', '.join(QUANTIZE_MODES)}")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    quantize_dynamic(
        str(fp32_path),
        str(out_path),
        weight_type=QuantType.QInt8,
        op_types_to_quantize=list(QUANTIZE_OP_TYPES),
        per_channel=True,
        reduce_range=False,
    )
    log.info("quantized %s -> %s (%s) in %.1fs", fp32_path, out_path, mode, time.perf_counter() - start)
    return out_path


def compare_quantized(
    fp32_path: str | Path,
    quantized_path: str | Path,
    vocab_size: int,
    mode: str = "int8",
    shapes: Sequence[tuple[int, int]] = PARITY_SHAPES,
    threads: int = 0,
) -> QuantizationReport:
    """The accuracy cost of a quantized graph: logit difference and label agreement vs fp32."""
    from layoutlmv3_triton.serving.onnx_classifier import OnnxTokenClassifier

    reference = OnnxTokenClassifier(fp32_path, threads)
    quantized = OnnxTokenClassifier(quantized_path, threads)
    report = compare(
        ParityReport(f"{mode} vs fp32", atol=float("inf")), reference.run, quantized.run, shapes, vocab_size
    )
    return QuantizationReport(
        mode,
        list(shapes),
        report.max_abs_diff,
        report.label_agreement,
        Path(fp32_path).stat().st_size,
        Path(quantized_path).stat().st_size,
    )
