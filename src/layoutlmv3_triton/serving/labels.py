"""Label names come from the model's ``config.json`` (``id2label``), never from code."""

from __future__ import annotations

import json
from pathlib import Path


def load_id2label(config_path: str | Path) -> list[str]:
    """Labels ordered by id from a Hugging Face ``config.json`` (file or its folder)."""
    path = Path(config_path)
    if path.is_dir():
        path = path / "config.json"
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"no model config at {path}: labels come from its id2label") from exc
    id2label = config.get("id2label")
    if not id2label:
        raise ValueError(f"{path} has no id2label: fine-tune the model for token classification first")
    ids = sorted(int(k) for k in id2label)
    if ids != list(range(len(ids))):
        raise ValueError(f"{path}: id2label ids must be 0..{len(ids) - 1}, got {ids}")
    return [id2label[str(i)] if str(i) in id2label else id2label[i] for i in ids]
