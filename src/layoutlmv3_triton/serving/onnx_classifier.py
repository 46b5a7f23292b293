"""The model, the logic: ``model.onnx`` run by onnxruntime on the CPU, one batch or several.
Every row (window) runs at its own length, its padding cut off, and rows of equal length
run as one batch (or, with ``pad_across_lengths``, all are padded to the longest).

tritonserver from the PyPI wheel has no onnxruntime backend, so the local server's model
step (steps/onnx_model.py) runs the same ``model.onnx`` that the NGC container serves with
``backend: "onnxruntime"``; the in-process pipeline, the ONNX export's checks and the
benchmarks run it through this class too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from layoutlmv3_triton import contract
from layoutlmv3_triton.serving.encoding import pad_stack

GRAPH_OPTIMIZATION = ("all", "extended", "basic", "disabled")


def make_session(
    onnx_path: str | Path,
    threads: int = 0,
    *,
    allow_spinning: bool = False,
    optimization: str = "all",
    memory_arena: bool = True,
):
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


class OnnxTokenClassifier:
    def __init__(self, onnx_path: str | Path, threads: int = 0, **session_options):
        self.session = make_session(onnx_path, threads, **session_options)
        self.input_types = {i.name: i.type for i in self.session.get_inputs()}

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        feed = {
            name: (a.astype(np.int64) if "int64" in self.input_types[name] else a.astype(np.float32))
            for name, a in inputs.items()
            if name in self.input_types
        }
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
                feed[t.name] = pad_stack(rows, longest)
        logits = self.run(feed)
        out, start = [], 0
        for size, length in zip(sizes, lengths):
            out.append(logits[start : start + size, :length])
            start += size
        return out


def real_lengths(attention_mask: np.ndarray) -> list[int]:
    """Each row's length without its trailing padding (at least 1 token)."""
    mask = np.asarray(attention_mask).reshape(attention_mask.shape[0], -1) != 0
    seq = mask.shape[1]
    last = seq - np.argmax(mask[:, ::-1], axis=1)  # one past the last real token
    return [int(n) if any_real else 1 for n, any_real in zip(last, mask.any(axis=1))]
