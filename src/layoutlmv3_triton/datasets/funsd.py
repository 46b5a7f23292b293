"""Open FUNSD-format datasets: a ``save_to_disk`` folder or a ``datasets.load_dataset`` name.

Why one module: training and evaluation read the same format (``tokens``, ``bboxes`` in
0..1000, ``ner_tags`` as a ClassLabel sequence, ``image``) from the same two kinds of
source, and must fail the same way.  It imports no torch, so ``evaluate`` stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from layoutlmv3_triton.errors import LayoutLMv3TritonError

REQUIRED_COLUMNS = ("tokens", "bboxes", "ner_tags", "image")


class DatasetError(LayoutLMv3TritonError):
    """The data is missing, unreadable or not in FUNSD's format."""


def open_dataset(*, data: str | Path | None = None, dataset: str | None = None) -> Any:
    """The ``Dataset`` or ``DatasetDict`` in folder ``data`` or behind hub name ``dataset``.

    ``dataset`` may also be a local folder in the hub layout (e.g. parquet files under
    ``data/``), which is how the hub path is tested offline.
    """
    import datasets

    if bool(data) == bool(dataset):
        raise DatasetError("give exactly one of a dataset folder (--data) or a dataset name (--dataset)")
    if data:
        path = Path(data)
        if not path.exists():
            raise DatasetError(f"no dataset folder at {path} (make one with `layoutlmv3-triton synth`)")
        try:
            return datasets.load_from_disk(str(path))
        except (FileNotFoundError, ValueError) as exc:
            raise DatasetError(f"{path} is not a dataset saved with save_to_disk: {exc}") from exc
    try:
        return datasets.load_dataset(dataset)
    except Exception as exc:  # the hub client raises many types; all mean "cannot load"
        raise DatasetError(f"cannot load dataset {dataset!r}: {exc}") from exc


def pick_split(ds: Any, names: tuple[str, ...], source: str) -> tuple[Any, str | None]:
    """(the first of ``names`` in a DatasetDict, its name); a plain Dataset is returned as is."""
    import datasets

    if isinstance(ds, datasets.Dataset):
        return ds, None
    for name in names:
        if name in ds:
            return ds[name], name
    raise DatasetError(f"{source} has splits {list(ds)}; expected {' or '.join(names)}")


def check_columns(ds: Any) -> Any:
    missing = [c for c in REQUIRED_COLUMNS if c not in ds.column_names]
    if missing:
        raise DatasetError(f"dataset lacks FUNSD columns {missing}; it has {ds.column_names}")
    return ds


def label_names(ds: Any) -> list[str]:
    """Label names from the ``ner_tags`` ClassLabel feature, never hard-coded."""
    inner = getattr(ds.features["ner_tags"], "feature", None)
    names = getattr(inner, "names", None)
    if not names:
        raise DatasetError("ner_tags is not a sequence of ClassLabel: label names are unknown")
    return list(names)
