"""Typed exceptions.  A :class:`RequestError` belongs to one request and names the
stage that rejected it; the server turns it into that request's ``TritonError`` so
that its neighbours in the batch still succeed."""

from __future__ import annotations


class LayoutLMv3TritonError(Exception):
    """Base class of every error this package raises on purpose."""


class RequestError(LayoutLMv3TritonError):
    """A single request is invalid or could not be processed at ``stage``."""

    stage = "request"

    def __init__(self, reason: str, *, stage: str | None = None):
        self.reason = reason
        if stage:
            self.stage = stage
        super().__init__(f"{self.stage}: {reason}")


class BadImageError(RequestError):
    stage = "preprocess"


class ImageTooLargeError(BadImageError):
    pass


class OcrError(RequestError):
    stage = "preprocess"


class EncodingError(RequestError):
    stage = "preprocess"


class DecodingError(RequestError):
    stage = "postprocess"


class ModelRunError(RequestError):
    stage = "model"


class ParityError(LayoutLMv3TritonError):
    """An exported model disagrees with the reference beyond the tolerance."""


class RepositoryError(LayoutLMv3TritonError):
    """The model repository or its source model is missing or inconsistent."""


class ServerError(LayoutLMv3TritonError):
    """The local tritonserver could not be found, started, or became unhealthy."""
