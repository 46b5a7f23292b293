"""The memory allocator tritonserver and its python-backend stubs run with.

Why: with glibc's malloc the stubs' resident memory keeps climbing under steady load
(docs/memory.md), because freed memory of many differently sized buffers stays in glibc's
per-thread arenas instead of going back to the system.  jemalloc returns it (its dirty
pages decay back to the OS) and measured flat.  It is preloaded into tritonserver, and the
stubs inherit the environment.

One definition for every launcher: the local server sets it here, and the server image,
docker-compose.yml and the Helm chart's values spell the same ``LD_PRELOAD`` value (a
unit test checks that they agree).  The bare soname lets the dynamic loader find the
library on any architecture (/usr/lib/<arch>-linux-gnu).
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

ALLOCATOR_LIBRARY = "libjemalloc.so.2"  # Debian/Ubuntu package libjemalloc2
ALLOCATOR_PACKAGE = "libjemalloc2"
ALLOCATOR_ENV = {"LD_PRELOAD": ALLOCATOR_LIBRARY}
# "system" keeps glibc's malloc (to compare); any other value is a library to preload instead.
ALLOCATOR_OVERRIDE_ENV = "LAYOUTLMV3_TRITON_MALLOC"
LIBRARY_DIRS = (
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
)


class AllocatorWarning(UserWarning):
    """The preferred allocator is not installed: the server runs with glibc's malloc."""


def find_library(name: str, dirs: tuple[str, ...] = LIBRARY_DIRS) -> Path | None:
    """The library file ``name`` (a soname or a path), or None when it is not installed."""
    if os.sep in name:
        return Path(name) if Path(name).is_file() else None
    return next((Path(d) / name for d in dirs if (Path(d) / name).is_file()), None)


def allocator_environment(env: dict[str, str], dirs: tuple[str, ...] = LIBRARY_DIRS) -> dict[str, str]:
    """``env`` with the allocator preloaded.  An LD_PRELOAD the caller set wins; a missing
    library gives a warning and the unchanged environment (the server still runs)."""
    env = dict(env)
    choice = env.pop(ALLOCATOR_OVERRIDE_ENV, "") or ALLOCATOR_LIBRARY
    if choice == "system" or env.get("LD_PRELOAD"):
        return env
    library = find_library(choice, dirs)
    if library is None:
        warnings.warn(
            f"{choice} is not installed (Debian: apt-get install {ALLOCATOR_PACKAGE}); tritonserver runs "
            "with glibc malloc, whose resident memory grows under load (docs/memory.md)",
            AllocatorWarning,
            stacklevel=2,
        )
        return env
    env["LD_PRELOAD"] = str(library)
    return env
