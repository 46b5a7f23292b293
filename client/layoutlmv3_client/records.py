"""The ``--jsonl`` file: one record per line, written so that ``--resume`` can trust it.

Each record goes to the file in one ``write`` on an append-only descriptor and is
fsync'ed before the next, so a crash, a kill or a power cut leaves every finished
record whole, plus at most one cut-off last line.  ``--resume`` reads the file back:

- a document with a result, or with an error of its own (a refused page, an unreadable
  file), is done and is not sent again;
- a record with a transient error (overloaded, timed out, server unreachable) is dropped,
  and its document sent again;
- a cut-off or unreadable line is dropped, and its document sent again.

When anything is dropped the file is rewritten first (to a temporary file, then renamed
over the old one), so that every document ends up with exactly one record.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import TRANSIENT_STAGES


def document_key(path: str) -> str:
    """The same document whatever the spelling of its path (``./a.png``, ``a.png``, a link)."""
    return os.path.realpath(path)


def is_done(record: dict) -> bool:
    """Whether a record settles its document: a result, or an error that is not transient."""
    if "result" in record:
        return True
    error = record.get("error")
    return isinstance(error, dict) and error.get("stage") not in TRANSIENT_STAGES


@dataclass
class Resumed:
    """What ``--resume`` found in an earlier ``--jsonl`` file."""

    records: list[dict] = field(default_factory=list)  # kept, in file order
    to_retry: int = 0  # records dropped for a transient error
    broken_lines: list[int] = field(default_factory=list)  # 1-based numbers of dropped lines

    @property
    def done(self) -> set[str]:
        return {document_key(r["file"]) for r in self.records}


def read_for_resume(path: str | Path) -> Resumed:
    """The records of ``path`` that settle their document (none when it does not exist)."""
    found = Resumed()
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return found
    seen: set[str] = set()
    lines = data.split(b"\n")
    # The text after the last newline is a record cut off mid-write (or nothing at all).
    complete, tail = lines[:-1], lines[-1]
    for number, raw in enumerate(complete, 1):
        try:
            record = json.loads(raw)
            key = document_key(record["file"])
        except (ValueError, KeyError, TypeError):
            found.broken_lines.append(number)
            continue
        if not is_done(record):
            found.to_retry += 1
        elif key not in seen:  # an older run may have written a document twice: keep the first
            seen.add(key)
            found.records.append(record)
    if tail.strip():
        found.broken_lines.append(len(lines))
    return found


def rewrite(path: str | Path, records: list[dict]) -> None:
    """Replace ``path`` with ``records``, all or nothing: a crash leaves the old file or the new."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.resume-tmp")
    with JsonlFile(temporary, append=False) as out:
        for record in records:
            out.write(record)
    os.replace(temporary, path)


class JsonlFile:
    """Append records to a JSON Lines file, each one whole and on disk before the next."""

    def __init__(self, path: str | Path, append: bool):
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
        self.path = str(path)
        self.fd = os.open(self.path, flags, 0o644)

    def write(self, record: dict) -> None:
        line = memoryview((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        while line:  # one write() in practice; a short write continues where it stopped
            line = line[os.write(self.fd, line) :]
        os.fsync(self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> JsonlFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
