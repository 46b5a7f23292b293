"""Client for the LayoutLMv3 ensemble on Triton.

Needs only tritonclient, numpy, Pillow and tqdm (pypdfium2 for annotating PDFs): it
runs in the Triton SDK image, where torch and transformers are not installed.

    from layoutlmv3_client import DocumentClient
    with DocumentClient("127.0.0.1:8001") as client:
        result = client.infer(open("page.png", "rb").read())
"""

from .api import DEFAULT_TIMEOUT_S, DocumentClient, Outcome
from .errors import (
    BadInputError,
    ClientError,
    InferenceError,
    ModelNotReadyError,
    OverloadedError,
    RequestTimeoutError,
    ServerUnavailableError,
    TransientError,
)
from .files import SUPPORTED_SUFFIXES, expand
from .retry import DEFAULT_RETRIES

__all__ = [
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT_S",
    "DocumentClient",
    "Outcome",
    "BadInputError",
    "ClientError",
    "InferenceError",
    "ModelNotReadyError",
    "OverloadedError",
    "RequestTimeoutError",
    "ServerUnavailableError",
    "TransientError",
    "SUPPORTED_SUFFIXES",
    "expand",
]
