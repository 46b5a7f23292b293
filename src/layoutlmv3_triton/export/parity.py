"""One parity check for every export target: a candidate graph against its reference, on
the same random inputs, at several (batch, seq) shapes, padding ignored.

ONNX export checks ONNX Runtime against PyTorch, quantization checks INT8 against FP32,
and ``build-trt`` checks the TensorRT engine against ONNX Runtime; all three go through
:func:`compare` and read a :class:`ParityReport`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from layoutlmv3_triton import contract
from layoutlmv3_triton.errors import ParityError

Inputs = dict[str, np.ndarray]
PARITY_SHAPES = ((1, 64), (2, 128), (3, 200), (1, contract.MAX_SEQ_LEN))
# (atol, rtol) of a reduced-precision target against its FP32 reference: |diff| <= atol + rtol*|ref|
# on every attended token.  FP16 keeps ~3 significant digits, hence its looser bound.
TOLERANCES = {"fp32": (1e-3, 1e-3), "fp16": (5e-2, 5e-2)}


def sample_inputs(batch: int, seq: int, vocab_size: int, seed: int = 0) -> Inputs:
    """Random but valid inputs: ordered boxes in 0..1000, a padded tail on odd rows."""
    rng = np.random.default_rng(seed + 1000 * batch + seq)
    ids = rng.integers(3, vocab_size, size=(batch, seq), dtype=np.int64)
    ids[:, 0] = 0
    mask = np.ones((batch, seq), dtype=np.int64)
    for row in range(1, batch, 2):
        mask[row, seq // 2 :] = 0
        ids[row, seq // 2 :] = 1
    corners = rng.integers(0, 1000, size=(batch, seq, 2, 2))
    bbox = np.concatenate([corners.min(axis=2), corners.max(axis=2)], axis=-1).astype(np.int64)
    pixels = rng.standard_normal((batch, 3, contract.IMAGE_SIZE, contract.IMAGE_SIZE)).astype(np.float32)
    return {
        contract.INPUT_IDS.name: ids,
        contract.ATTENTION_MASK.name: mask,
        contract.BBOX.name: bbox,
        contract.PIXEL_VALUES.name: pixels,
    }


@dataclass
class ParityReport:
    """Per (batch, seq) point: max |logit diff|, how far past ``atol + rtol*|ref|`` it went
    (> 0 fails), and the share of tokens whose argmax label agrees."""

    label: str  # what was compared with what, e.g. "ONNX Runtime vs PyTorch"
    atol: float
    rtol: float = 0.0
    error: type[ParityError] = ParityError
    points: list[tuple[int, int]] = field(default_factory=list)
    max_abs_diff: list[float] = field(default_factory=list)
    excess: list[float] = field(default_factory=list)
    label_agreement: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(e <= 0 for e in self.excess)

    @property
    def worst(self) -> float:
        return max(self.max_abs_diff)

    def add(self, batch: int, seq: int, reference: np.ndarray, candidate: np.ndarray, mask: np.ndarray) -> None:
        if reference.shape != candidate.shape:
            raise self.error(
                f"shape mismatch at {batch}x{seq}: reference {reference.shape}, "
                f"candidate {candidate.shape} ({self.label})"
            )
        keep = mask.astype(bool)
        ref = reference[keep].astype(np.float64)
        got = candidate[keep].astype(np.float64)
        if not np.isfinite(got).all():
            diff, excess = float("inf"), float("inf")
        else:
            d = np.abs(got - ref)
            diff = float(d.max(initial=0.0))
            excess = float((d - self.atol - self.rtol * np.abs(ref)).max(initial=-self.atol))
        self.points.append((batch, seq))
        self.max_abs_diff.append(diff)
        self.excess.append(excess)
        self.label_agreement.append(float((ref.argmax(-1) == got.argmax(-1)).mean()) if ref.size else 1.0)

    def __str__(self) -> str:
        cells = ", ".join(
            f"{b}x{s}: {d:.2e} (labels {a:.1%})"
            for (b, s), d, a in zip(self.points, self.max_abs_diff, self.label_agreement)
        )
        rtol = f" + {self.rtol:g}*|ref|" if self.rtol else ""
        return f"{self.label}, max |logit diff| (batch x seq): {cells}; tolerance |diff| <= {self.atol:g}{rtol}"

    def raise_if_drifting(self, action: str = "refusing to write the model") -> ParityReport:
        if not self.ok:
            raise self.error(f"{action}: {self}")
        return self


def compare(
    report: ParityReport,
    reference: Callable[[Inputs], np.ndarray],
    candidate: Callable[[Inputs], np.ndarray],
    points: Iterable[tuple[int, int]],
    vocab_size: int,
) -> ParityReport:
    """Run both on the same sample inputs at each (batch, seq) point and add them to ``report``."""
    for batch, seq in points:
        inputs = sample_inputs(batch, seq, vocab_size)
        report.add(batch, seq, reference(inputs), candidate(inputs), inputs[contract.ATTENTION_MASK.name])
    return report
