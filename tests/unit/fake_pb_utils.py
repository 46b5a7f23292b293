"""A small stand-in for ``triton_python_backend_utils``, which exists only inside the
python backend's stub: enough of its API for the step models to run in a unit test.

It keeps what the real module promises (one tensor type, responses that carry outputs
or an error, TritonError codes), so a step that breaks those promises fails here too.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2

_NUMPY = {
    "TYPE_BOOL": np.bool_,
    "TYPE_INT32": np.int32,
    "TYPE_INT64": np.int64,
    "TYPE_FP16": np.float16,
    "TYPE_FP32": np.float32,
    "TYPE_STRING": np.object_,
    "TYPE_UINT8": np.uint8,
}


class Tensor:
    def __init__(self, name: str, array: np.ndarray):
        if not isinstance(array, np.ndarray):
            raise TypeError(f"output {name!r} must be a numpy array, not {type(array).__name__}")
        self._name, self._array = name, array

    def name(self) -> str:
        return self._name

    def as_numpy(self) -> np.ndarray:
        return self._array


class TritonError:
    UNKNOWN, INTERNAL, NOT_FOUND, INVALID_ARG, UNAVAILABLE, UNSUPPORTED, ALREADY_EXISTS = range(7)

    def __init__(self, message: str, code: int = INTERNAL):
        self._message, self._code = message, code

    def message(self) -> str:
        return self._message

    def code(self) -> int:
        return self._code


class InferenceResponse:
    def __init__(self, output_tensors=(), error: TritonError | None = None):
        self.output_tensors, self.error = list(output_tensors), error

    def has_error(self) -> bool:
        return self.error is not None

    def outputs(self) -> dict[str, np.ndarray]:
        return {t.name(): t.as_numpy() for t in self.output_tensors}


class InferenceRequest:
    def __init__(self, **inputs: np.ndarray):
        self.inputs = {name: Tensor(name, array) for name, array in inputs.items()}


def get_input_tensor_by_name(request: InferenceRequest, name: str) -> Tensor | None:
    return request.inputs.get(name)


def triton_string_to_numpy(data_type: str):
    return _NUMPY[data_type]


def install() -> types.ModuleType:
    """Make ``import triton_python_backend_utils`` find this module."""
    module = sys.modules[__name__]
    sys.modules["triton_python_backend_utils"] = module
    return module


def initialize_args(repository: Path, model: str) -> dict:
    """The ``args`` tritonserver gives ``initialize``, from the model's config.pbtxt."""
    config = text_format.Parse((repository / model / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())
    as_json = json_format.MessageToDict(config, preserving_proto_field_name=True)
    return {
        "model_config": json.dumps(as_json),
        "model_repository": str(repository / model),
        "model_version": "1",
        "model_instance_name": f"{model}_0",
        "model_name": model,
    }
