"""``--fields-csv``: the key/value fields of every document as CSV rows (file, page, key, value, score)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO

COLUMNS = ("file", "page", "key", "value", "score")


def field_rows(path: str, result: dict) -> Iterator[dict]:
    """One row per field of each page of ``result`` (docs/result-format.md, ``fields``)."""
    for i, page in enumerate(result.get("pages", [])):
        for field in page.get("fields", []):
            yield {
                "file": path,
                "page": int(page.get("page", i)),
                "key": field.get("key", ""),
                "value": field.get("value", ""),
                "score": field.get("score"),
            }


class FieldsCsv:
    """A CSV file written as records arrive (a crash keeps what finished)."""

    def __init__(self, stream: IO[str]):
        self.stream = stream
        self.writer = csv.DictWriter(stream, fieldnames=COLUMNS)
        self.writer.writeheader()

    def add(self, record: dict) -> None:
        if "result" in record:
            self.writer.writerows(field_rows(record["file"], record["result"]))
            self.stream.flush()

    def close(self) -> None:
        self.stream.close()
