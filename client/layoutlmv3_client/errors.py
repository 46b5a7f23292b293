"""The client's errors: one hierarchy for both protocols, so callers catch one set."""
from __future__ import annotations


class ClientError(Exception):
    """Base class; ``stage`` names where it failed (read, connect, preprocess, ...)."""

    def __init__(self, message: str, stage: str | None = None):
        super().__init__(message)
        self.message = message
        self.stage = stage

    def to_dict(self) -> dict[str, str]:
        return {"stage": self.stage, "message": self.message} if self.stage else {"message": self.message}


class ServerUnavailableError(ClientError):
    """Nothing answers at the URL, or the connection broke."""


class ModelNotReadyError(ClientError):
    """The server answers but the model is not loaded or not ready."""


class InferenceError(ClientError):
    """The server took the request and failed it; ``message`` is the server's own."""

    def __init__(self, message: str, stage: str | None = None, status: str | None = None):
        super().__init__(message, stage)
        self.status = status


class BadInputError(InferenceError):
    """The document itself was refused (empty, undecodable, wrong type)."""
