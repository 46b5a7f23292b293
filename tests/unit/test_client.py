"""The torch-free client: files, requests, errors, annotation, output and the CLI.

No server is needed: the network tests talk to a loopback port nothing listens on,
and the CLI tests swap the server for a fake that answers like the ensemble.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from layoutlmv3_client import cli, files
from layoutlmv3_client.annotate import annotate_page, entity_labels, label_colors, label_name, write_annotations
from layoutlmv3_client.api import DocumentClient
from layoutlmv3_client.errors import BadInputError, InferenceError
from layoutlmv3_client.request import build_inputs, parse_result, request_array, split_url
from layoutlmv3_triton import contract

LABELS = ["O", "B-HEADER", "I-HEADER", "B-QUESTION", "I-QUESTION", "B-ANSWER", "I-ANSWER"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def png_bytes(size=(400, 300), color="white") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def fake_result(width: int, height: int, pages: int = 1) -> dict:
    page = lambda i: {  # noqa: E731
        "page": i,
        "width": width,
        "height": height,
        "source": "ocr",
        "truncated_words": 0,
        "words": [],
        "entities": [
            {"label": "QUESTION", "text": "Name:", "box": [20, 150, 120, 180], "score": 0.9, "words": [0]},
            {"label": "ANSWER", "text": "Jane Doe", "box": [140, 150, 260, 180], "score": 0.8, "words": [1]},
        ],
    }
    return {"model": contract.ENSEMBLE, "labels": LABELS, "pages": [page(i) for i in range(pages)]}


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "layoutlmv3_client", *args], capture_output=True, text=True, timeout=timeout
    )


# --- files ---------------------------------------------------------------------------
def test_expand_files_folders_globs_and_problems(tmp_path):
    (tmp_path / "scans" / "sub").mkdir(parents=True)
    for name in ("a.png", "b.JPG", "c.pdf", "notes.txt", "sub/d.tiff"):
        (tmp_path / "scans" / name).write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    (tmp_path / "readme.md").write_text("x")
    single = tmp_path / "scans" / "a.png"

    found = files.expand(
        [
            str(single),
            str(tmp_path / "scans"),
            str(tmp_path / "scans" / "*.pdf"),
            str(tmp_path / "readme.md"),
            str(tmp_path / "missing.png"),
            str(tmp_path / "empty"),
            str(tmp_path / "nothing-*.png"),
        ]
    )
    names = [Path(p).name for p in found.files]
    assert names == ["a.png", "b.JPG", "c.pdf"]  # order kept, duplicates dropped, .txt skipped in folders
    problems = {Path(p.path).name: p.message for p in found.problems}
    assert "unsupported file type .md" in problems["readme.md"]
    assert problems["missing.png"] == "no such file or folder"
    assert "no supported documents" in problems["empty"]
    assert "no matches" in problems["nothing-*.png"]

    deep = files.expand([str(tmp_path / "scans")], recursive=True)
    assert [Path(p).name for p in deep.files] == ["a.png", "b.JPG", "c.pdf", "d.tiff"]
    globbed = files.expand([str(tmp_path / "scans" / "**" / "*.tiff")])
    assert [Path(p).name for p in globbed.files] == ["d.tiff"]
    assert contract.is_pdf(b"%PDF-1.7 ...") and not contract.is_pdf(b"\x89PNG...")


# --- requests and responses ----------------------------------------------------------
def test_request_tensor_follows_the_contract():
    arr = request_array(b"\x89PNG\x00\x00")
    assert arr.shape == (1, *contract.DOCUMENT.dims)
    assert arr.dtype == np.dtype(contract.DOCUMENT.numpy_dtype)
    assert arr.reshape(-1)[0] == b"\x89PNG\x00\x00"  # trailing NULs survive in object arrays

    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient

    for module in (grpcclient, httpclient):
        inputs, outputs = build_inputs(module, b"abc")
        assert [(i.name(), i.datatype(), list(i.shape())) for i in inputs] == [
            (contract.DOCUMENT.name, contract.DOCUMENT.dtype, [1, *contract.DOCUMENT.dims])
        ]
        assert [o.name() for o in outputs] == [contract.RESULT.name]


def test_parse_result_reads_the_result_tensor():
    class Response:
        def __init__(self, value):
            self.value = value

        def as_numpy(self, name):
            return self.value if name == contract.RESULT.name else None

    doc = fake_result(10, 10)
    assert parse_result(Response(np.array([[json.dumps(doc).encode()]], dtype=object))) == doc
    with pytest.raises(InferenceError, match="no 'result' output"):
        parse_result(Response(None))
    with pytest.raises(InferenceError, match="not JSON"):
        parse_result(Response(np.array([[b"{oops"]], dtype=object)))


def test_split_url_defaults_per_protocol():
    assert split_url(None, "grpc") == ("127.0.0.1:8001", False)
    assert split_url(None, "http") == ("127.0.0.1:8000", False)
    assert split_url("triton", "http") == ("triton:8000", False)
    assert split_url("https://triton:443/", "http") == ("triton:443", True)
    with pytest.raises(ValueError):
        split_url("x", "ftp")


def test_infer_refuses_empty_documents_without_a_server():
    with pytest.raises(BadInputError, match="empty"):
        DocumentClient("127.0.0.1:9").infer(b"")


def test_infer_many_isolates_failures_and_keeps_order(monkeypatch):
    def infer(self, data):
        time.sleep(0.05 if data == b"slow" else 0)
        if data == b"bad":
            raise BadInputError("preprocess: cannot decode image: nope", "preprocess")
        return {"echo": data.decode()}

    def unreadable():
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(DocumentClient, "infer", infer)
    items = [b"slow", b"bad", unreadable, (lambda: b"lazy"), b"ok"]
    with DocumentClient("127.0.0.1:9") as client:
        outcomes = list(client.infer_many(items, concurrency=3, ordered=True))
        unordered = list(client.infer_many(items, concurrency=3))
    assert [o.index for o in outcomes] == [0, 1, 2, 3, 4]
    assert [o.ok for o in outcomes] == [True, False, False, True, True]
    assert outcomes[1].error.stage == "preprocess"
    assert outcomes[2].error.stage == "read" and "No such file" in outcomes[2].error.message
    assert outcomes[3].result == {"echo": "lazy"}
    assert sorted(o.index for o in unordered) == [0, 1, 2, 3, 4]


# --- annotation ----------------------------------------------------------------------
def test_annotate_draws_boxes_in_label_colours_with_a_legend():
    result = fake_result(400, 300)
    page = result["pages"][0]
    labels = entity_labels(result)
    assert labels == ["HEADER", "QUESTION", "ANSWER"]  # from the result, in the model's order
    colors = label_colors(labels)
    assert len(set(colors.values())) == 3 and label_colors(labels) == colors

    # A smaller scan still comes out at the page size, so boxes land on the entities.
    out = annotate_page(Image.new("RGB", (200, 150), "white"), page, colors, labels)
    assert out.size == (page["width"], page["height"])
    px = out.load()
    for e in page["entities"]:
        x0, y0, x1, y1 = e["box"]
        want = colors[label_name(e["label"])]
        for x, y in ((x0, (y0 + y1) // 2), (x1, (y0 + y1) // 2), ((x0 + x1) // 2, y1)):
            assert px[x, y] == want, (e["label"], x, y)

    # Legend: a solid swatch of every label colour outside the entity boxes and their tags.
    arr = np.asarray(out)
    mask = np.ones(arr.shape[:2], bool)
    for e in page["entities"]:
        x0, y0, x1, y1 = e["box"]
        mask[max(0, y0 - 30) : y1 + 1, x0 : x1 + 1] = False
    for name in labels:
        hits = np.all(arr == np.array(colors[name], np.uint8), axis=-1) & mask
        assert hits.sum() >= 25, f"no legend swatch for {name}"


def test_label_colors_depend_on_the_name():
    funsd = label_colors(["HEADER", "QUESTION", "ANSWER"])
    assert label_colors(["ANSWER", "QUESTION", "HEADER"]) == funsd  # not on the order
    assert label_colors(["QUESTION"])["QUESTION"] == funsd["QUESTION"]  # nor on the other labels
    many = label_colors([f"L{i}" for i in range(14)])  # past the palette: still one colour each
    assert len(many) == 14 and len(set(many.values())) == 14


def test_write_annotations_for_images_and_pdf_pages(tmp_path):
    paths = write_annotations(png_bytes((400, 300)), fake_result(400, 300), tmp_path, "form", pdf=False)
    assert [p.name for p in paths] == ["form.png"]
    assert Image.open(paths[0]).size == (400, 300)

    pytest.importorskip("pypdfium2")
    buf = io.BytesIO()
    first, second = Image.new("RGB", (300, 200), "white"), Image.new("RGB", (300, 200), "white")
    first.save(buf, format="PDF", save_all=True, append_images=[second], resolution=72)
    paths = write_annotations(buf.getvalue(), fake_result(600, 400, pages=2), tmp_path, "doc", pdf=True)
    assert [p.name for p in paths] == ["doc-p1.png", "doc-p2.png"]
    assert all(Image.open(p).size == (600, 400) for p in paths)


# --- output and CLI ------------------------------------------------------------------
def test_json_and_jsonl_writers(tmp_path):
    records = [{"file": "a.png", "result": {"text": "ñ"}}, {"file": "b.png", "error": {"message": "x"}}]
    cli.write_json(tmp_path / "out.json", records)
    cli.write_jsonl(tmp_path / "out.jsonl", records)
    assert json.loads((tmp_path / "out.json").read_text(encoding="utf-8")) == records
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == records


class FakeServerClient(DocumentClient):
    """Answers like the ensemble: a result sized to the image, or the server's decode error."""

    def check(self):
        pass

    def infer(self, data):
        try:
            width, height = Image.open(io.BytesIO(data)).size
        except Exception:
            raise BadInputError(
                "in ensemble 'layoutlmv3_ensemble', preprocess: cannot decode image: junk", "preprocess"
            ) from None
        time.sleep(0.05 * (width % 3))  # finish out of order
        return fake_result(width, height)


def test_cli_infer_writes_records_in_input_order(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "DocumentClient", FakeServerClient)
    docs = []
    for i in range(4):
        docs.append(tmp_path / f"p{i}.png")
        docs[-1].write_bytes(png_bytes((400 + i, 300)))
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    (tmp_path / "notes.txt").write_text("x")
    args = (
        [str(d) for d in docs[:2]]
        + [str(tmp_path / "junk.jpg"), str(tmp_path / "notes.txt")]
        + [str(d) for d in docs[2:]]
    )
    out, jl, ann = tmp_path / "out.json", tmp_path / "out.jsonl", tmp_path / "ann"

    code = cli.main(["infer", *args, "-c", "3", "--output", str(out), "--jsonl", str(jl), "--annotate", str(ann)])
    assert code == 1  # one file failed, the others went through
    records = json.loads(out.read_text())
    assert [json.loads(line) for line in jl.read_text().splitlines()] == records
    assert records[0] == {
        "file": str(tmp_path / "notes.txt"),
        "error": {"stage": "input", "message": records[0]["error"]["message"]},
    }
    rest = records[1:]
    assert [r["file"] for r in rest] == [str(d) for d in docs[:2]] + [str(tmp_path / "junk.jpg")] + [
        str(d) for d in docs[2:]
    ]
    assert rest[2]["error"]["stage"] == "preprocess" and "cannot decode image" in rest[2]["error"]["message"]
    assert rest[0]["result"]["pages"][0]["width"] == 400
    assert sorted(p.name for p in ann.iterdir()) == ["p0.png", "p1.png", "p2.png", "p3.png"]
    captured = capsys.readouterr()
    assert captured.out == ""  # records went to the files
    assert "cannot decode image" in captured.err and "6 document(s): 4 ok, 2 failed" in captured.err


def test_cli_prints_pretty_or_compact_to_stdout(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "DocumentClient", FakeServerClient)
    doc = tmp_path / "page.png"
    doc.write_bytes(png_bytes())
    assert cli.main(["infer", str(doc)]) == 0
    pretty = capsys.readouterr().out
    assert json.loads(pretty)["file"] == str(doc) and "\n  " in pretty
    assert cli.main(["infer", str(doc), str(doc), "--compact"]) == 0  # the same file once
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["result"]["pages"][0]["height"] == 300


def test_help_lists_examples():
    top = run_cli("--help")
    assert top.returncode == 0 and "examples:" in top.stdout and "layoutlmv3-client infer" in top.stdout
    sub = run_cli("infer", "--help")
    assert sub.returncode == 0 and "--annotate" in sub.stdout and "examples:" in sub.stdout


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_closed_port_gives_a_readable_error(tmp_path, protocol):
    doc = tmp_path / "page.png"
    doc.write_bytes(png_bytes())
    port = free_port()
    proc = run_cli(
        "infer", str(doc), "--url", f"127.0.0.1:{port}", "--protocol", protocol, "--timeout", "5", timeout=60
    )  # a hang fails here: the readiness check is not retried
    assert proc.returncode != 0
    assert f"cannot reach Triton at 127.0.0.1:{port} over {protocol}" in proc.stderr
    assert "layoutlmv3-triton serve" in proc.stderr and "Traceback" not in proc.stderr
    health = run_cli("health", "--url", f"127.0.0.1:{port}", "--protocol", protocol, "--timeout", "5")
    assert health.returncode == 2 and "cannot reach Triton" in health.stderr


def test_client_imports_no_torch_or_transformers():
    code = textwrap.dedent("""
        import contextlib, io, sys
        import layoutlmv3_client, layoutlmv3_client.annotate, layoutlmv3_client.cli as cli
        import tritonclient.grpc, tritonclient.http
        from layoutlmv3_client.request import build_inputs
        build_inputs(tritonclient.grpc, b"x"); build_inputs(tritonclient.http, b"x")
        with contextlib.redirect_stdout(io.StringIO()):
            for argv in (["--help"], ["infer", "--help"], ["health", "--help"]):
                try:
                    cli.main(argv)
                except SystemExit:
                    pass
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers"))
        ours = sorted(m for m in sys.modules if m.startswith("layoutlmv3_triton."))
        print(heavy, ours)
        sys.exit(1 if heavy or ours != ["layoutlmv3_triton.contract"] else 0)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
