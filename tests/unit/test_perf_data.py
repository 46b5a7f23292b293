"""perf_analyzer --input-data JSON for the ensemble: real page images, one per request."""

from __future__ import annotations

import argparse
import base64
import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from layoutlmv3_triton import contract
from layoutlmv3_triton.commands import perf_data as command
from layoutlmv3_triton.measure.perf_data import (
    PerfDataError,
    document_entry,
    expand,
    serialize_bytes_element,
    write_input_data,
)

REPO = Path(__file__).resolve().parents[2]


def _page(path: Path, size=(120, 160)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, "white").save(path)
    return path


def _decode(entry: dict) -> bytes:
    """What perf_analyzer sends: the b64 content, i.e. Triton's serialized BYTES tensor."""
    return base64.b64decode(entry[contract.DOCUMENT.name]["content"]["b64"])


def _elements(serialized: bytes) -> list[bytes]:
    """Triton's BYTES deserialization: repeated (uint32 little-endian length, bytes)."""
    out, offset = [], 0
    while offset < len(serialized):
        (n,) = struct.unpack_from("<I", serialized, offset)
        out.append(serialized[offset + 4 : offset + 4 + n])
        offset += 4 + n
    assert offset == len(serialized)
    return out


def test_the_document_is_the_only_required_ensemble_input():
    # The format below assumes this (perf_analyzer leaves optional inputs out); a contract
    # change must revisit perf_data.
    assert contract.DOCUMENT in contract.ENSEMBLE_INPUTS
    assert all(t.optional for t in contract.ENSEMBLE_INPUTS if t is not contract.DOCUMENT)
    assert contract.DOCUMENT.dtype == "BYTES" and contract.DOCUMENT.dims == (1,)


def test_bytes_element_has_a_little_endian_length_prefix():
    assert serialize_bytes_element(b"abc") == b"\x03\x00\x00\x00abc"
    big = bytes(range(256)) * 300
    assert _elements(serialize_bytes_element(big)) == [big]


def test_document_entry_structure():
    entry = document_entry(b"\x89PNG fake")
    assert list(entry) == [contract.DOCUMENT.name]
    tensor = entry[contract.DOCUMENT.name]
    assert set(tensor) == {"content", "shape"} and set(tensor["content"]) == {"b64"}
    assert tensor["shape"] == list(contract.DOCUMENT.dims)
    assert _elements(_decode(entry)) == [b"\x89PNG fake"]
    with pytest.raises(PerfDataError):
        document_entry(b"")


def test_write_input_data_one_request_per_image(tmp_path):
    pages = [_page(tmp_path / "a.png"), _page(tmp_path / "b.jpg", (300, 200)), _page(tmp_path / "c.tif")]
    out = write_input_data(pages, tmp_path / "reports" / "perf" / "input.json")
    assert out == tmp_path / "reports" / "perf" / "input.json"
    data = json.loads(out.read_text())
    assert list(data) == ["data"] and len(data["data"]) == len(pages)
    for entry, page in zip(data["data"], pages):
        (element,) = _elements(_decode(entry))
        assert element == page.read_bytes()
        Image.open(__import__("io").BytesIO(element)).verify()  # still a decodable image


def test_write_input_data_refuses_nothing_and_empty_files(tmp_path):
    with pytest.raises(PerfDataError, match="no documents"):
        write_input_data([], tmp_path / "x.json")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(PerfDataError, match="empty.png"):
        write_input_data([empty], tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def test_expand_folders_keeps_documents_in_order(tmp_path):
    for name in ("b.png", "a.JPG", "notes.txt", "sub/c.pdf"):
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    single = _page(tmp_path / "single.png")
    found = expand([tmp_path / "in", single])
    assert [p.name for p in found] == ["a.JPG", "b.png", "single.png"]
    assert [p.name for p in expand([tmp_path / "in"], recursive=True)] == ["a.JPG", "b.png", "c.pdf"]
    assert ".pdf" in contract.DOCUMENT_SUFFIXES
    with pytest.raises(PerfDataError, match="no such file"):
        expand([tmp_path / "missing"])


def test_command_writes_the_json(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    _page(tmp_path / "pages" / "p.png")
    out = tmp_path / "input.json"
    assert command.run(parser.parse_args([str(tmp_path / "pages"), "--output", str(out)])) == 0
    assert len(json.loads(out.read_text())["data"]) == 1
    assert command.run(parser.parse_args([str(tmp_path / "nothing-here")])) == 2
    assert "no such file" in capsys.readouterr().err


def test_module_runs_without_the_full_cli(tmp_path):
    """The perf-analyzer service calls it as ``python3 -m`` in the torch-free client image."""
    _page(tmp_path / "p.png")
    out = tmp_path / "input.json"
    done = subprocess.run(
        [sys.executable, "-m", "layoutlmv3_triton.commands.perf_data", str(tmp_path / "p.png"), "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(out.read_text())["data"]) == 1


def test_the_bundled_samples_make_valid_input_data(tmp_path):
    samples = expand([REPO / "samples"])
    if not samples:
        pytest.skip("no sample pages in samples/")
    data = json.loads(write_input_data(samples, tmp_path / "input.json").read_text())
    assert [_elements(_decode(e))[0] for e in data["data"]] == [p.read_bytes() for p in samples]
