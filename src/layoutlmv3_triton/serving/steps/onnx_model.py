"""Model step for the local server: onnxruntime inside the python backend (the Triton glue
around serving/onnx_classifier.py).

Every row (window) runs at its own length, its padding cut off, and rows of equal length
run as one batch (or, with ``pad_across_lengths``, all are padded to the longest).
"""

from __future__ import annotations

import numpy as np

from layoutlmv3_triton import contract
from layoutlmv3_triton.errors import ModelRunError, RequestError
from layoutlmv3_triton.serving.onnx_classifier import OnnxTokenClassifier
from layoutlmv3_triton.serving.settings import ModelParameters
from layoutlmv3_triton.serving.steps import triton_io
from layoutlmv3_triton.serving.steps.diagnostics import HeapSnapshots
from layoutlmv3_triton.serving.steps.triton_io import ModelArgs

STAGE = "model"
_SEQ_INPUTS = tuple(t.name for t in contract.MODEL_INPUTS if t is not contract.PIXEL_VALUES)


def check_inputs(inputs: dict[str, np.ndarray]) -> int:
    """Validate one request's tensors; returns its sequence length."""
    for t in contract.MODEL_INPUTS:
        if t.name not in inputs:
            raise RequestError(f"missing input tensor {t.name!r}", stage=STAGE)
    seq = inputs[contract.INPUT_IDS.name].shape[1]
    for name in _SEQ_INPUTS:
        shape = inputs[name].shape
        if len(shape) < 2 or shape[1] != seq or shape[0] != inputs[contract.INPUT_IDS.name].shape[0]:
            raise RequestError(f"{name} has shape {list(shape)}, expected [batch, {seq}, ...]", stage=STAGE)
    if not 0 < seq <= contract.MAX_SEQ_LEN:
        raise RequestError(f"sequence length {seq} outside 1..{contract.MAX_SEQ_LEN}", stage=STAGE)
    return seq


class TritonPythonModel:
    def initialize(self, args):
        self.args = ModelArgs(args)
        self.heap = HeapSnapshots.from_parameters(self.args.instance, self.args.parameters)  # off by default
        params = ModelParameters.from_parameters(self.args.parameters)
        self.model = OnnxTokenClassifier(
            self.args.version_dir / params.onnx_file,
            params.intra_op_threads,
            allow_spinning=params.allow_spinning,
            optimization=params.graph_optimization,
            memory_arena=params.cpu_memory_arena,
        )
        self.pad_across_lengths = params.pad_across_lengths

    def _inputs(self, request) -> dict[str, np.ndarray]:
        inputs = {t.name: triton_io.require_input(request, t.name, STAGE) for t in contract.MODEL_INPUTS}
        check_inputs(inputs)
        return inputs

    def _run_alone(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            return {contract.LOGITS.name: self.model.run_request(inputs, self.pad_across_lengths)}
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own exceptions carry no stage
            raise ModelRunError(f"onnxruntime failed: {exc}") from exc

    def execute(self, requests):
        """One run for all valid requests; should it fail, one run each to isolate the culprit."""
        self.heap.tick()
        inputs = [triton_io.attempt(STAGE, self._inputs, request) for request in requests]
        valid = [item for item in inputs if not isinstance(item, Exception)]
        together = triton_io.attempt(STAGE, self.model.run_many, valid, self.pad_across_lengths) if valid else []
        logits = iter([] if isinstance(together, Exception) else together)
        responses = []
        for item in inputs:
            if isinstance(item, Exception):
                responses.append(triton_io.error_response(item, STAGE))
            elif isinstance(together, Exception):
                responses.append(triton_io.respond(STAGE, self._run_alone, item))
            else:
                responses.append(triton_io.ok_response({contract.LOGITS.name: next(logits)}))
        return responses
