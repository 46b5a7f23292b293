"""Real documents against a real tritonserver: long pages, PDFs, client words, JSON over HTTP."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import urllib.request

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from pages import FORM_LINES, dense_page, image_pdf, png_bytes, text_pdf
from PIL import Image

from layoutlmv3_client import DocumentClient
from layoutlmv3_triton import contract
from layoutlmv3_triton.serving.pipeline import InProcessPipeline


@pytest.fixture(scope="module")
def pipeline(tiny_repository):
    p = InProcessPipeline(tiny_repository)
    yield p
    p.close()


@pytest.fixture(scope="module")
def long_page():
    image, truth = dense_page(1500)
    words = json.dumps({"words": [w for w, _ in truth], "boxes": [list(map(round, b)) for _, b in truth]}).encode()
    return png_bytes(image), words, truth


def grpc_infer(url: str, document: bytes, words: bytes | None = None) -> dict:
    client = grpcclient.InferenceServerClient(url)
    inputs = []
    for tensor, value in ((contract.DOCUMENT, document), (contract.WORDS, words)):
        if value is not None:
            item = grpcclient.InferInput(tensor.name, [1, 1], tensor.dtype)
            item.set_data_from_numpy(np.array([[value]], dtype=object))
            inputs.append(item)
    response = client.infer(contract.ENSEMBLE, inputs)
    return json.loads(response.as_numpy(contract.RESULT.name)[0][0])


def test_long_page_is_windowed_and_merged(triton_server, pipeline, long_page):
    document, words, truth = long_page
    windows = pipeline.pre.process([document], [words])[0][0].windows
    assert len(windows) >= 3, "1500 words need several 512-token windows"
    served = grpc_infer(triton_server.grpc_url, document, words)["pages"][0]
    assert served["source"] == "client" and len(served["words"]) == len(truth) == 1500
    assert served["truncated_words"] == 0 and all(w["label"] is not None for w in served["words"])
    local = pipeline(document, words)["pages"][0]
    assert [w["label"] for w in served["words"]] == [w["label"] for w in local["words"]]
    np.testing.assert_allclose([w["score"] for w in served["words"]], [w["score"] for w in local["words"]], atol=1e-5)


def test_pdf_text_layer_skips_ocr_and_gives_one_result_per_page(triton_server):
    pdf = text_pdf([["Invoice Number: 12345", "Date: 2024-01-02"], ["Total (due): 99.50 EUR"]])
    result = grpc_infer(triton_server.grpc_url, pdf)
    assert [p["page"] for p in result["pages"]] == [0, 1]
    assert all(p["source"] == "pdf-text" for p in result["pages"])
    assert [w["text"] for w in result["pages"][0]["words"]] == "Invoice Number: 12345 Date: 2024-01-02".split()
    assert [w["text"] for w in result["pages"][1]["words"]] == ["Total", "(due):", "99.50", "EUR"]
    first = result["pages"][0]["words"][0]["box"]
    assert 140 <= first[0] <= 160 and first[2] > first[0] and first[3] > first[1]  # 72 pt margin at 150 dpi


def test_scanned_pdf_goes_through_ocr(triton_server, form_page):
    result = grpc_infer(triton_server.grpc_url, image_pdf(form_page[0]))
    page = result["pages"][0]
    assert page["source"] == "ocr"
    assert {"Name:", "John", "Smith"} <= {w["text"] for w in page["words"]}


def test_pdf_page_limit(triton_server):
    with pytest.raises(Exception, match="PDF has 21 pages; the limit is 20"):
        grpc_infer(triton_server.grpc_url, text_pdf([["page"]] * 21))


def test_client_words_replace_ocr(triton_server, form_page, pipeline):
    image, truth = form_page
    words = json.dumps({"words": [w for w, _ in truth], "boxes": [list(map(round, b)) for _, b in truth]}).encode()
    served = grpc_infer(triton_server.grpc_url, png_bytes(image), words)["pages"][0]
    assert served["source"] == "client" and [w["text"] for w in served["words"]] == [w for w, _ in truth]
    assert served == pipeline(png_bytes(image), words)["pages"][0]
    with pytest.raises(Exception, match="'words' and 'boxes' must be lists of equal length"):
        grpc_infer(triton_server.grpc_url, png_bytes(image), b'{"words": ["a"], "boxes": []}')


def test_plain_json_over_http(triton_server, form_page):
    """KServe v2 JSON: BYTES travel as text, so the document is base64; words are a JSON string."""
    image, truth = form_page
    body = {
        "inputs": [
            {
                "name": "document",
                "shape": [1, 1],
                "datatype": "BYTES",
                "data": [base64.b64encode(png_bytes(image)).decode()],
            },
            {
                "name": "words",
                "shape": [1, 1],
                "datatype": "BYTES",
                "data": [
                    json.dumps({"words": ["Name:", "John"], "boxes": [[40, 110, 130, 140], [140, 110, 210, 140]]})
                ],
            },
        ]
    }
    request = urllib.request.Request(
        f"http://{triton_server.http_url}/v2/models/{contract.ENSEMBLE}/infer",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.loads(response.read())
    result = json.loads(answer["outputs"][0]["data"][0])
    assert [w["text"] for w in result["pages"][0]["words"]] == ["Name:", "John"]
    assert (result["pages"][0]["width"], result["pages"][0]["height"]) == image.size


def test_client_cli_on_pdf_writes_annotated_pages(triton_server, tmp_path):
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(text_pdf([FORM_LINES, ["Total: 99.50", "Signature"]]))
    out = tmp_path / "annotated"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "layoutlmv3_client",
            "infer",
            str(pdf),
            "--url",
            triton_server.grpc_url,
            "--jsonl",
            str(tmp_path / "out.jsonl"),
            "--annotate",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    record = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])
    pages = record["result"]["pages"]
    images = sorted(out.glob("*.png"))
    assert len(images) == len(pages) == 2
    for path, page in zip(images, pages):
        annotated = np.asarray(Image.open(path).convert("RGB"))
        assert annotated.shape[:2] == (page["height"], page["width"])
        for entity in page["entities"][:3]:  # the box outline is drawn in colour, not left white or black
            x0, y0, x1, y1 = entity["box"]
            edge = annotated[y0, x0 : x1 + 1]
            assert (edge.max(axis=1) - edge.min(axis=1) > 40).any(), f"no coloured outline at {entity['box']}"


def test_bad_words_json_is_a_request_error(triton_server, form_page):
    with DocumentClient(triton_server.grpc_url) as client:
        assert client.infer(png_bytes(form_page[0]))["pages"][0]["words"]
    with pytest.raises(Exception, match="preprocess: 'words' must be JSON"):
        grpc_infer(triton_server.grpc_url, png_bytes(form_page[0]), b"not json")
