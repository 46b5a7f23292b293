"""Request and response tensors, URLs and server messages: the pure parts of talking to Triton."""
from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from layoutlmv3_triton import contract

from .errors import BadInputError, ClientError, InferenceError, ModelNotReadyError, ServerUnavailableError

PROTOCOLS = ("grpc", "http")
DEFAULT_PORTS = {"grpc": 8001, "http": 8000}
DEFAULT_HOST = "127.0.0.1"
SERVE_HINT = "is the server running? try `layoutlmv3-triton serve`"


def split_url(url: str | None, protocol: str) -> tuple[str, bool]:
    """``(host:port, ssl)`` from ``host``, ``host:port`` or ``scheme://host:port``."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")
    url = (url or DEFAULT_HOST).strip().rstrip("/")
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    host_port = rest.split("/", 1)[0]
    if not re.search(r":\d+$", host_port):
        host_port = f"{host_port}:{DEFAULT_PORTS[protocol]}"
    return host_port, scheme in ("https", "grpcs")


def request_array(data: bytes) -> np.ndarray:
    """The ``document`` input tensor: one BYTES element, with the batch dimension."""
    shape = (1, *contract.DOCUMENT.dims)
    return np.array([data], dtype=contract.DOCUMENT.numpy_dtype).reshape(shape)


def build_inputs(triton_module: Any, data: bytes) -> tuple[list, list]:
    """(inputs, requested outputs) for the grpc or http module of tritonclient."""
    arr = request_array(data)
    doc = triton_module.InferInput(contract.DOCUMENT.name, list(arr.shape), contract.DOCUMENT.dtype)
    doc.set_data_from_numpy(arr)
    return [doc], [triton_module.InferRequestedOutput(contract.RESULT.name)]


def parse_result(response: Any) -> dict:
    arr = response.as_numpy(contract.RESULT.name)
    if arr is None or arr.size == 0:
        raise InferenceError(f"the server's answer has no {contract.RESULT.name!r} output", stage="result")
    raw = arr.reshape(-1)[0]
    try:
        return json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise InferenceError(f"the {contract.RESULT.name!r} output is not JSON: {exc}", stage="result") from None


_ENSEMBLE_PREFIX = re.compile(r"^in ensemble '[^']*', ")
_STAGE_PREFIX = re.compile(r"^([a-z][a-z0-9_-]{1,30}): ")


def server_stage(message: str) -> str | None:
    """The step a server message comes from: its ``stage:`` prefix, else a step model's name."""
    m = _STAGE_PREFIX.match(_ENSEMBLE_PREFIX.sub("", message))
    if m:
        return m.group(1)
    for name in (contract.PREPROCESS, contract.MODEL, contract.POSTPROCESS):
        if f"'{name}" in message:
            return name
    return None


_NOT_LOADED = re.compile(r"unknown model|model '[^']*' (is not ready|has no available versions)", re.I)


def unreachable(url: str, protocol: str, detail: str) -> str:
    return f"cannot reach Triton at {url} over {protocol}: {detail}; {SERVE_HINT}"


def translate_error(exc: Exception, url: str, protocol: str, model: str, timeout_s: float) -> Exception:
    """The :mod:`.errors` exception for what tritonclient or the socket raised."""
    from tritonclient.utils import InferenceServerException

    if isinstance(exc, ClientError):
        return exc
    late = f"no answer from {url} within {timeout_s:g} s (raise --timeout / timeout_s)"
    if isinstance(exc, TimeoutError):
        return InferenceError(late, "timeout")
    if isinstance(exc, OSError):  # the HTTP client raises socket errors as they are
        return ServerUnavailableError(unreachable(url, protocol, str(exc) or type(exc).__name__), "connect")
    if not isinstance(exc, InferenceServerException):
        return exc
    message = exc.message() or str(exc)
    status = str(exc.status() or "")
    lowered = message.lower()
    if "UNAVAILABLE" in status or "failed to connect" in lowered:
        return ServerUnavailableError(unreachable(url, protocol, message), "connect")
    if "DEADLINE_EXCEEDED" in status or "deadline exceeded" in lowered:
        return InferenceError(late, "timeout", status)
    if _NOT_LOADED.search(message):
        return ModelNotReadyError(f"model {model!r} is not available on {url}: {message}", "ready")
    stage = server_stage(message)
    # The server answers every rejected document with "<stage>: <reason>"; a
    # preprocess rejection that is not an internal error is about the document.
    refused = "INVALID_ARG" in status or status == "400"
    refused |= stage == "preprocess" and "internal error" not in lowered
    return (BadInputError if refused else InferenceError)(message, stage, status or None)
