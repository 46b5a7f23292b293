"""Request and response tensors, URLs and server messages: the pure parts of talking to Triton."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from layoutlmv3_triton import contract

from .errors import (
    BadInputError,
    ClientError,
    InferenceError,
    ModelNotReadyError,
    OverloadedError,
    RequestTimeoutError,
    ServerUnavailableError,
)

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


def unreachable(url: str, protocol: str, detail: str) -> str:
    return f"cannot reach Triton at {url} over {protocol}: {detail}; {SERVE_HINT}"


# Triton's answer codes, as gRPC names them and HTTP numbers them (checked on Triton 2.51:
# tritonclient's exception carries "StatusCode.<NAME>" over gRPC and the HTTP code over HTTP).
HTTP_STATUS = {
    "400": "INVALID_ARGUMENT",
    "404": "NOT_FOUND",
    "500": "INTERNAL",
    "501": "UNIMPLEMENTED",
    "503": "UNAVAILABLE",
}


def status_name(status: object) -> str:
    """One name for both protocols: ``StatusCode.UNAVAILABLE`` and ``503`` are ``UNAVAILABLE``."""
    text = str(status or "")
    return HTTP_STATUS.get(text, text.removeprefix("StatusCode."))


def translate_error(
    exc: Exception, url: str, protocol: str, model: str, timeout_s: float, server_live: Callable[[], bool] | None = None
) -> Exception:
    """The :mod:`.errors` exception for what tritonclient or the socket raised.

    This is the one place that maps Triton's answers, and it goes by status code (gRPC
    name / HTTP code), never by message text:

    - UNAVAILABLE / 503: :class:`OverloadedError`. The model's queue was full ("Exceeds
      maximum queue size"), or the request waited in it past the queue timeout.
    - DEADLINE_EXCEEDED, or the HTTP socket timing out: :class:`RequestTimeoutError`.
    - a refused or broken connection: :class:`ServerUnavailableError`.
    - NOT_FOUND / 404: :class:`ModelNotReadyError`.
    - INVALID_ARGUMENT / 400: :class:`BadInputError`; the steps answer a refused document so.
    - anything else (INTERNAL / 500): :class:`InferenceError` with the server's message.

    gRPC also answers UNAVAILABLE when it cannot connect at all; ``server_live`` (a
    liveness probe) tells that apart from a live server refusing work.
    """
    from tritonclient.utils import InferenceServerException

    if isinstance(exc, ClientError):
        return exc
    if isinstance(exc, TimeoutError):  # the HTTP client's socket timed out
        return RequestTimeoutError(_late(url, timeout_s), "timeout")
    if isinstance(exc, OSError):  # the HTTP client raises socket errors as they are
        return ServerUnavailableError(unreachable(url, protocol, str(exc) or type(exc).__name__), "connect")
    if not isinstance(exc, InferenceServerException):
        return exc
    message = exc.message() or str(exc)
    status = status_name(exc.status())
    if status == "UNAVAILABLE":
        if protocol == "grpc" and server_live is not None and not server_live():
            return ServerUnavailableError(unreachable(url, protocol, message), "connect")
        return OverloadedError(
            f"Triton at {url} is overloaded and refused the request for now: {message}; "
            "lower --concurrency, or give the model more instances or a longer queue",
            "overload",
        )
    if status == "DEADLINE_EXCEEDED":
        return RequestTimeoutError(_late(url, timeout_s), "timeout")
    if status == "NOT_FOUND":
        return ModelNotReadyError(f"model {model!r} is not available on {url}: {message}", "ready")
    error = BadInputError if status == "INVALID_ARGUMENT" else InferenceError
    return error(message, server_stage(message), status or None)


def _late(url: str, timeout_s: float) -> str:
    return f"no answer from {url} within {timeout_s:g} s (raise --timeout / timeout_s)"
