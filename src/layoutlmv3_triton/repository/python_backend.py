"""Shared memory of Triton's python backend, sized from the contract.

The python-backend steps hand their tensors to tritonserver through a shared-memory region
per model instance (in /dev/shm).  Recent python backends start that region at 1 MB and grow
it 1 MB at a time, while one preprocess response can carry ``max_windows`` sequences of
pixel values (3 x 224 x 224 float32 = 588 KiB each): 64 windows are about 40 MB, i.e. forty
grow steps inside one request.  The server launcher (docker/layoutlmv3-tritonserver.sh) and
docker-compose.yml start the region at one full response and grow it by another.
"""

from __future__ import annotations

import math

import numpy as np

from layoutlmv3_triton import contract

MIB = 1 << 20
SHM_DEFAULT_BYTE_SIZE = 64 * MIB  # one largest preprocess response, with room for its page_words JSON
SHM_GROWTH_BYTE_SIZE = 64 * MIB  # one more such response per grow step (a batch holds several)


def window_bytes(seq_len: int = contract.MAX_SEQ_LEN) -> int:
    """Bytes of one sequence of the preprocess step's fixed-size outputs (BYTES outputs left out)."""
    total = 0
    for t in contract.PREPROCESS_OUTPUTS:
        if t.dtype == "BYTES":
            continue
        elements = math.prod(seq_len if d == -1 else d for d in t.dims)
        total += elements * np.dtype(t.numpy_dtype).itemsize
    return total


def preprocess_response_bytes(max_windows: int) -> int:
    """The largest preprocess response of one request: ``max_windows`` full-length sequences
    (the preprocess step's limit, which is also the model step's ``max_batch_size``)."""
    return max_windows * window_bytes()


def backend_config_flags(default: int = SHM_DEFAULT_BYTE_SIZE, growth: int = SHM_GROWTH_BYTE_SIZE) -> list[str]:
    return [
        f"--backend-config=python,shm-default-byte-size={default}",
        f"--backend-config=python,shm-growth-byte-size={growth}",
    ]
