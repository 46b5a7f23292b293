"""Thin glue between the python backend's request objects and numpy.

``triton_python_backend_utils`` only exists inside the backend stub; importing this
module elsewhere works, and only the functions that touch requests need it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from layoutlmv3_triton.errors import ModelRunError, RequestError

try:  # present only inside tritonserver's python backend stub
    import triton_python_backend_utils as pb_utils
except ImportError:  # pragma: no cover - exercised by the unit tests' import
    pb_utils = None

log = logging.getLogger("layoutlmv3_triton.serving.steps")
T = TypeVar("T")


class ModelArgs:
    """What ``initialize(args)`` tells a python-backend model, parsed once."""

    def __init__(self, args: dict):
        self.config = json.loads(args["model_config"])
        self.name = self.config["name"]
        self.version_dir = Path(args["model_repository"]) / str(args["model_version"])
        self.parameters = {k: v.get("string_value", "") for k, v in self.config.get("parameters", {}).items()}
        self.instance = args.get("model_instance_name", self.name)

    def output_dtype(self, name: str) -> np.dtype:
        for out in self.config["output"]:
            if out["name"] == name:
                return np.dtype(pb_utils.triton_string_to_numpy(out["data_type"])) if pb_utils else np.dtype("int64")
        raise KeyError(name)


def input_array(request, name: str) -> np.ndarray | None:
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    return None if tensor is None else tensor.as_numpy()


def require_input(request, name: str, stage: str) -> np.ndarray:
    array = input_array(request, name)
    if array is None:
        raise RequestError(f"missing input tensor {name!r}", stage=stage)
    return array


def ok_response(outputs: dict[str, np.ndarray]):
    return pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor(k, v) for k, v in outputs.items()])


def is_bad_input(exc: Exception) -> bool:
    """A request error is the client's fault (INVALID_ARG), except when our own model
    run failed: that, like any unexpected exception, is the server's (INTERNAL)."""
    return isinstance(exc, RequestError) and not isinstance(exc, ModelRunError)


def error_response(exc: Exception, stage: str):
    message = str(exc) if isinstance(exc, RequestError) else f"{stage}: internal error: {type(exc).__name__}: {exc}"
    return pb_utils.InferenceResponse(error=triton_error(message, is_bad_input(exc)))


def triton_error(message: str, bad_input: bool):
    """A TritonError with a status code: clients (and gRPC/HTTP status) can then tell a
    refused document from a server fault.  Error codes came with python_backend 23.x;
    older stubs only take the message (and always report INTERNAL)."""
    error_type = pb_utils.TritonError
    code = getattr(error_type, "INVALID_ARG" if bad_input else "INTERNAL", None)
    return error_type(message) if code is None else error_type(message, code)


def attempt(stage: str, fn: Callable[..., T], *args) -> T | Exception:
    """``fn(*args)``, or the exception it raised: the one place where a step turns any
    failure into a value that answers a single request.  Unexpected ones are logged."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - every failure becomes that request's error
        if not isinstance(exc, RequestError):
            log.exception("%s failed on one request", stage)
        return exc


def respond(stage: str, build: Callable[..., dict[str, np.ndarray]], *args):
    """The response of one request: its outputs, or its own error."""
    outputs = attempt(stage, lambda: ok_response(build(*args)))
    return error_response(outputs, stage) if isinstance(outputs, Exception) else outputs


def respond_each(requests: Sequence, stage: str, build: Callable[[object], dict[str, np.ndarray]]) -> list:
    """One response per request; an exception answers only its own request."""
    return [respond(stage, build, request) for request in requests]


def bytes_array(values: Sequence[bytes]) -> np.ndarray:
    """A [n, 1] BYTES tensor as an object array (bytes_ would strip trailing NULs)."""
    out = np.empty((len(values), 1), dtype=object)
    for i, v in enumerate(values):
        out[i, 0] = v
    return out
