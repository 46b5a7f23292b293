"""Real page images as perf_analyzer ``--input-data`` JSON for the ensemble.

perf_analyzer's random data is useless here: the ensemble's input is an encoded image,
and random bytes fail to decode in the preprocess step.  This module writes the JSON
format perf_analyzer reads (``{"data": [{<input>: ...}, ...]}``), one entry per image;
perf_analyzer sends the entries round-robin, one page per request.

A BYTES element given as ``{"b64": ...}`` must be Triton's serialized form: a 4-byte
little-endian length followed by the bytes (perf_analyzer docs, "Real Input Data").
Standard library only: this runs in the torch-free client image.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterable
from pathlib import Path

from layoutlmv3_triton import contract
from layoutlmv3_triton.errors import LayoutLMv3TritonError

# What the preprocess step decodes (images and PDF pages).


class PerfDataError(LayoutLMv3TritonError, ValueError):
    """No usable documents, or a document that cannot be sent."""


def serialize_bytes_element(data: bytes) -> bytes:
    """One BYTES tensor element the way Triton serializes it: uint32 LE length + bytes."""
    return struct.pack("<I", len(data)) + data


def document_entry(data: bytes) -> dict:
    """One perf_analyzer data entry: the ensemble's ``document`` input, one element."""
    if not data:
        raise PerfDataError("empty document")
    b64 = base64.b64encode(serialize_bytes_element(data)).decode("ascii")
    return {contract.DOCUMENT.name: {"content": {"b64": b64}, "shape": list(contract.DOCUMENT.dims)}}


def expand(paths: Iterable[Path], recursive: bool = False) -> list[Path]:
    """Files as given; folders expand to their documents, sorted for a stable order (the client's rules)."""
    from layoutlmv3_client.files import expand as expand_arguments

    found = expand_arguments(paths, recursive)
    if found.problems:
        raise PerfDataError("; ".join(f"{problem.path}: {problem.message}" for problem in found.problems))
    return [Path(path) for path in found.files]


def write_input_data(images: list[Path], out: Path) -> Path:
    """Write perf_analyzer ``--input-data`` JSON with one request per image; return ``out``."""
    images = [Path(p) for p in images]
    if not images:
        raise PerfDataError("no documents given")
    entries = []
    for path in images:
        try:
            entries.append(document_entry(path.read_bytes()))
        except PerfDataError as exc:
            raise PerfDataError(f"{path}: {exc}") from None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"data": entries}) + "\n", encoding="ascii")
    return out
