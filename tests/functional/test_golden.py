"""The served results on samples/ do not drift unnoticed.

The tiny repository of the session (built offline from fixed seeds) serves every file in
samples/; each result must equal the one kept in tests/data/golden/.  Scores are compared
to 6 decimals, so that another CPU's last-bit rounding does not count as a change; words,
boxes, labels, entities and pairs must match exactly.  A change that is meant to alter
the results regenerates them:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/functional/test_golden.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from layoutlmv3_client import DocumentClient

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted(
    p for p in (ROOT / "samples").iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".pdf"}
)
GOLDEN = ROOT / "tests" / "data" / "golden"


def rounded(value):
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
def test_served_result_matches_golden(triton_server, sample):
    with DocumentClient(triton_server.grpc_url) as client:
        result = client.infer(sample.read_bytes())
    golden = GOLDEN / f"{sample.name}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    assert golden.is_file(), f"no golden result for {sample.name}: run with UPDATE_GOLDEN=1"
    expected = json.loads(golden.read_text())
    assert rounded(result) == rounded(
        expected
    ), f"served result for {sample.name} changed; if intended, regenerate with UPDATE_GOLDEN=1"
