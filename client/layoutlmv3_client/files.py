"""Turn command-line arguments (files, folders, globs) into the documents to send."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from layoutlmv3_triton.contract import DOCUMENT_SUFFIXES as SUPPORTED_SUFFIXES

_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Problem:
    """An argument that yields nothing to send, with the reason in words."""

    path: str
    message: str


@dataclass
class Expansion:
    files: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def is_supported(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in SUPPORTED_SUFFIXES


def _unsupported(path: str) -> Problem:
    suffix = Path(path).suffix.lower() or "(none)"
    return Problem(path, f"unsupported file type {suffix}; expected one of {' '.join(SUPPORTED_SUFFIXES)}")


def _folder(path: str, recursive: bool) -> list[str]:
    base = Path(path)
    found = base.rglob("*") if recursive else base.iterdir()
    return sorted(str(p) for p in found if p.is_file() and is_supported(p))


def expand(args: Iterable[str | os.PathLike], recursive: bool = False) -> Expansion:
    """Expand ``args`` in the order given; each document appears once.

    A file named explicitly with an unsupported suffix is a problem (the user asked
    for it); inside folders and glob matches such files are skipped, since folders
    commonly hold other things too.
    """
    out = Expansion()
    seen: set[str] = set()

    def add(path: str) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            out.files.append(path)

    for arg in args:
        text = os.fspath(arg)
        if os.path.isdir(text):
            found = _folder(text, recursive)
            if not found:
                how = "recursively " if recursive else ""
                out.problems.append(
                    Problem(
                        text,
                        f"folder holds no supported documents ({how}searched " f"for {' '.join(SUPPORTED_SUFFIXES)})",
                    )
                )
            for path in found:
                add(path)
        elif os.path.exists(text):
            if is_supported(text):
                add(text)
            else:
                out.problems.append(_unsupported(text))
        elif _GLOB_CHARS & set(text):
            # Shells on Windows and quoted arguments leave globs for us to expand.
            matches = sorted(glob.glob(text, recursive=True))
            docs = [m for m in matches if os.path.isfile(m) and is_supported(m)]
            if not docs:
                what = f"{len(matches)} match(es), none a supported document" if matches else "no matches"
                out.problems.append(Problem(text, f"pattern found {what}"))
            for path in docs:
                add(path)
        else:
            out.problems.append(Problem(text, "no such file or folder"))
    return out
