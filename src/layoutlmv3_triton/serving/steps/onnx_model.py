"""Model step for the local server: onnxruntime inside the python backend.

tritonserver from the PyPI wheel has no onnxruntime backend, so this step runs the
same ``model.onnx`` that the NGC container serves with ``backend: "onnxruntime"``.
Every row (window) runs at its own length, its padding cut off, and rows of equal length
run as one batch (or, with ``pad_across_lengths``, all are padded to the longest).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from layoutlmv3_triton import contract
from layoutlmv3_triton.errors import ModelRunError, RequestError
from layoutlmv3_triton.serving.steps import triton_io
from layoutlmv3_triton.serving.steps.parameters import ModelParameters
from layoutlmv3_triton.serving.steps.diagnostics import HeapSnapshots
from layoutlmv3_triton.serving.steps.triton_io import ModelArgs

STAGE = "model"
_SEQ_INPUTS = tuple(t.name for t in contract.MODEL_INPUTS if t is not contract.PIXEL_VALUES)


GRAPH_OPTIMIZATION = ("all", "extended", "basic", "disabled")


def make_session(onnx_path: str | Path, threads: int = 0, *, allow_spinning: bool = False,
                 optimization: str = "all", memory_arena: bool = True):
    """An onnxruntime CPU session.  Measured choices (docs/performance.md):

    * ``threads``: intra-op threads; the served default is 1 per instance, with one
      instance per core, because OCR shares the cores and one thread has no pool to sync;
    * ``allow_spinning=False``: idle pool threads sleep instead of spinning, so a
      multi-threaded session does not burn the CPU the OCR instances need;
    * ``optimization="all"``: every graph rewrite (layout and fusions included).
    """
    import onnxruntime as ort

    levels = {
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    }
    if optimization not in levels:
        raise ValueError(f"unknown graph optimization {optimization!r}; choose from {', '.join(GRAPH_OPTIMIZATION)}")
    options = ort.SessionOptions()
    options.graph_optimization_level = levels[optimization]
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if allow_spinning else "0")
    options.enable_cpu_mem_arena = memory_arena  # off: tensors go to malloc, which can give them back (docs/memory.md)
    return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])


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


class OnnxTokenClassifier:
    def __init__(self, onnx_path: str | Path, threads: int = 0, **session_options):
        self.session = make_session(onnx_path, threads, **session_options)
        self.input_types = {i.name: i.type for i in self.session.get_inputs()}

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        feed = {name: (a.astype(np.int64) if "int64" in self.input_types[name] else a.astype(np.float32))
                for name, a in inputs.items() if name in self.input_types}
        return self.session.run([contract.LOGITS.name], feed)[0]

    def run_many(self, batches: Sequence[dict[str, np.ndarray]], pad_across_lengths: bool = False) -> list[np.ndarray]:
        """Run several requests batched; logits come back in each request's shape.

        By default every row (window) runs at its own length: the padding after its last
        real token is cut off, and rows of equal length, whichever request they come
        from, run as one batch.  Why: on CPU a padded token costs as much as a real one
        and batching equal lengths costs nothing (docs/performance.md), and a page's
        windows are padded to its longest one.  Logits past a row's length are 0; no
        word maps there.  ``pad_across_lengths``: one batch padded to the longest request.
        """
        return self._run_padded(batches) if pad_across_lengths else self._run_rows(batches)

    def run_request(self, inputs: dict[str, np.ndarray], pad_across_lengths: bool = False) -> np.ndarray:
        """One request alone, run the way :meth:`run_many` runs it in a batch."""
        return (self._run_padded if pad_across_lengths else self._run_rows)([inputs])[0]

    def _run_rows(self, batches: Sequence[dict[str, np.ndarray]]) -> list[np.ndarray]:
        """Every row at its own length; rows of equal length together."""
        masks = [b[contract.ATTENTION_MASK.name] for b in batches]
        groups: dict[int, list[tuple[int, int]]] = {}
        for index, mask in enumerate(masks):
            for row, length in enumerate(real_lengths(mask)):
                groups.setdefault(length, []).append((index, row))
        out: list[np.ndarray | None] = [None] * len(batches)
        for length, members in groups.items():
            feed = {}
            for t in contract.MODEL_INPUTS:
                rows = [batches[index][t.name][row] for index, row in members]
                feed[t.name] = np.stack(rows if t is contract.PIXEL_VALUES else [r[:length] for r in rows])
            logits = self.run(feed)
            for (index, row), row_logits in zip(members, logits):
                if out[index] is None:
                    out[index] = np.zeros((*masks[index].shape[:2], logits.shape[-1]), dtype=logits.dtype)
                out[index][row, :length] = row_logits
        return out

    def _run_padded(self, batches: Sequence[dict[str, np.ndarray]]) -> list[np.ndarray]:
        """All requests as one batch, padded to the longest."""
        lengths = [b[contract.INPUT_IDS.name].shape[1] for b in batches]
        sizes = [b[contract.INPUT_IDS.name].shape[0] for b in batches]
        longest = max(lengths)
        feed = {}
        for t in contract.MODEL_INPUTS:
            arrays = [b[t.name] for b in batches]
            if t is contract.PIXEL_VALUES:
                feed[t.name] = np.concatenate(arrays)
            else:
                rows = [row for a in arrays for row in a]
                feed[t.name] = triton_io.pad_stack(rows, longest)
        logits = self.run(feed)
        out, start = [], 0
        for size, length in zip(sizes, lengths):
            out.append(logits[start:start + size, :length])
            start += size
        return out


def real_lengths(attention_mask: np.ndarray) -> list[int]:
    """Each row's length without its trailing padding (at least 1 token)."""
    mask = np.asarray(attention_mask).reshape(attention_mask.shape[0], -1) != 0
    seq = mask.shape[1]
    last = seq - np.argmax(mask[:, ::-1], axis=1)  # one past the last real token
    return [int(n) if any_real else 1 for n, any_real in zip(last, mask.any(axis=1))]


class TritonPythonModel:
    def initialize(self, args):
        self.args = ModelArgs(args)
        self.heap = HeapSnapshots.from_parameters(self.args.instance, self.args.parameters)  # off by default
        params = ModelParameters.from_parameters(self.args.parameters)
        self.model = OnnxTokenClassifier(self.args.version_dir / params.onnx_file, params.intra_op_threads,
                                         allow_spinning=params.allow_spinning, optimization=params.graph_optimization,
                                         memory_arena=params.cpu_memory_arena)
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
