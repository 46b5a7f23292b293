"""The client's errors: one hierarchy for both protocols, so callers catch one set.

:class:`TransientError` and its subclasses say "send it again later": the client retries
them with backoff (``retries``), and ``--resume`` sends their documents again.  The
others are final for that document (or, for :class:`ModelNotReadyError`, for the run).
"""

from __future__ import annotations


class ClientError(Exception):
    """Base class; ``stage`` names where it failed (read, connect, preprocess, ...)."""

    def __init__(self, message: str, stage: str | None = None):
        super().__init__(message)
        self.message = message
        self.stage = stage

    def to_dict(self) -> dict[str, str]:
        return {"stage": self.stage, "message": self.message} if self.stage else {"message": self.message}


class TransientError(ClientError):
    """The server was busy, slow or briefly away: the same request may well succeed later."""


class ServerUnavailableError(TransientError):
    """Nothing answers at the URL, or the connection broke."""


class OverloadedError(TransientError):
    """The server is up but refused the request for now: its queue was full, or the
    request waited in it longer than the model's queue timeout."""


class RequestTimeoutError(TransientError):
    """No answer within the client's timeout (the server may still be working on it)."""


class ModelNotReadyError(ClientError):
    """The server answers but the model is not loaded or not ready."""


class InferenceError(ClientError):
    """The server took the request and failed it; ``message`` is the server's own."""

    def __init__(self, message: str, stage: str | None = None, status: str | None = None):
        super().__init__(message, stage)
        self.status = status


class BadInputError(InferenceError):
    """The document itself was refused (empty, undecodable, wrong type)."""


# The stages of transient errors in records: ``--resume`` sends those documents again.  A model
# that is not ready (the server loading or shutting down) is one of them.
TRANSIENT_STAGES = frozenset({"connect", "overload", "timeout", "ready"})
