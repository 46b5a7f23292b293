"""The OCR networks as Triton models, and the preprocess step's calls to them.

``ocr_detection`` and ``ocr_recognition`` run on the onnxruntime backend in the container
variants; tritonserver from the PyPI wheel has none, so the local variant serves the same
graphs with this python-backend model.  Requests the batcher hands over together run as one
batch per input shape.  :func:`bls_models` gives the PP-OCR engine (serving/ppocr/) its
``detect`` and ``recognise`` as BLS requests to those models, wherever they run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from layoutlmv3_triton import contract
from layoutlmv3_triton.errors import ModelRunError, OcrError, RequestError
from layoutlmv3_triton.serving.ppocr.engine import PpocrModels, read_charset
from layoutlmv3_triton.serving.settings import OcrModelParameters
from layoutlmv3_triton.serving.steps import triton_io
from layoutlmv3_triton.serving.steps.triton_io import ModelArgs, pb_utils

STAGE = "ocr"


def _signature(name: str) -> tuple[tuple[contract.Tensor, ...], tuple[contract.Tensor, ...]]:
    if name == contract.OCR_DETECTION:
        return contract.OCR_DETECTION_INPUTS, contract.OCR_DETECTION_OUTPUTS
    return contract.OCR_RECOGNITION_INPUTS, contract.OCR_RECOGNITION_OUTPUTS


def check_shape(array: np.ndarray, tensor: contract.Tensor) -> np.ndarray:
    """A request's input against the contract: batch first, then ``tensor.dims`` (-1: any size)."""
    dims = tensor.dims
    if array.ndim != len(dims) + 1 or any(d != -1 and d != s for d, s in zip(dims, array.shape[1:])):
        raise RequestError(
            f"{tensor.name} has shape {list(array.shape)}, expected [batch, "
            + ", ".join("any" if d == -1 else str(d) for d in dims)
            + "]",
            stage=STAGE,
        )
    if 0 in array.shape:
        raise RequestError(f"{tensor.name} is empty: shape {list(array.shape)}", stage=STAGE)
    return array.astype(np.float32, copy=False)


class TritonPythonModel:
    def initialize(self, args):
        from layoutlmv3_triton.serving.onnx_classifier import make_session

        self.args = ModelArgs(args)
        params = OcrModelParameters.from_parameters(self.args.parameters)
        self.inputs, self.outputs = _signature(self.args.name)
        self.session = make_session(self.args.version_dir / params.onnx_file, params.intra_op_threads)

    def _run(self, array: np.ndarray) -> list[np.ndarray]:
        try:
            return self.session.run([t.name for t in self.outputs], {self.inputs[0].name: array})
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own exceptions carry no stage
            raise ModelRunError(f"onnxruntime failed: {exc}", stage=STAGE) from exc

    def execute(self, requests):
        """Requests of one shape run as one batch; each gets its own rows, or its own error."""
        arrays = [
            triton_io.attempt(
                STAGE,
                lambda r: check_shape(triton_io.require_input(r, self.inputs[0].name, STAGE), self.inputs[0]),
                request,
            )
            for request in requests
        ]
        results: list = [None] * len(requests)
        groups: dict[tuple, list[int]] = {}
        for index, array in enumerate(arrays):
            if isinstance(array, Exception):
                results[index] = array
            else:
                groups.setdefault(array.shape[1:], []).append(index)
        for members in groups.values():
            together = triton_io.attempt(STAGE, self._run, np.concatenate([arrays[i] for i in members]))
            start = 0
            for i in members:
                rows = arrays[i].shape[0]
                results[i] = (
                    together
                    if isinstance(together, Exception)
                    else {t.name: out[start : start + rows] for t, out in zip(self.outputs, together)}
                )
                start += rows
        return [
            triton_io.error_response(r, STAGE) if isinstance(r, Exception) else triton_io.ok_response(r)
            for r in results
        ]


def _infer(
    model: str, tensor: contract.Tensor, array: np.ndarray, outputs: tuple[contract.Tensor, ...]
) -> list[np.ndarray]:
    """One BLS request; outputs come back in CPU memory whatever device the model ran on."""
    extra = {}
    if hasattr(pb_utils, "PreferredMemory"):  # python backend >= 23.x
        extra["preferred_memory"] = pb_utils.PreferredMemory(pb_utils.TRITONSERVER_MEMORY_CPU, 0)
    request = pb_utils.InferenceRequest(
        model_name=model,
        requested_output_names=[t.name for t in outputs],
        inputs=[pb_utils.Tensor(tensor.name, np.ascontiguousarray(array))],
        **extra,
    )
    response = request.exec()
    if response.has_error():
        raise OcrError(f"{model} failed: {response.error().message()}")
    return [pb_utils.get_output_tensor_by_name(response, t.name).as_numpy() for t in outputs]


def bls_models(charset_file: str | Path) -> PpocrModels:
    """PP-OCR's networks as BLS requests to the repository's OCR models."""

    def detect(page: np.ndarray) -> np.ndarray:
        return _infer(contract.OCR_DETECTION, contract.OCR_PAGE, page, contract.OCR_DETECTION_OUTPUTS)[0]

    def recognise(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids, scores = _infer(contract.OCR_RECOGNITION, contract.OCR_LINES, lines, contract.OCR_RECOGNITION_OUTPUTS)
        return ids, scores

    return PpocrModels(detect, recognise, read_charset(charset_file))
