"""The ensemble end to end on a real tritonserver: gRPC, HTTP, parity, isolation."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from pages import png_bytes

from layoutlmv3_client import DocumentClient
from layoutlmv3_client.errors import InferenceError
from layoutlmv3_triton import contract
from layoutlmv3_triton.serving.pipeline import InProcessPipeline


@pytest.fixture(scope="module")
def page_bytes(form_page):
    return png_bytes(form_page[0])


@pytest.fixture(scope="module")
def reference(tiny_repository, page_bytes):
    pipeline = InProcessPipeline(tiny_repository)
    try:
        return pipeline(page_bytes)
    finally:
        pipeline.close()


def raw_infer(module, url: str, data: bytes) -> dict:
    client = module.InferenceServerClient(url)
    document = module.InferInput(contract.DOCUMENT.name, [1, 1], contract.DOCUMENT.dtype)
    document.set_data_from_numpy(np.array([[data]], dtype=object))
    response = client.infer(contract.ENSEMBLE, [document], outputs=[module.InferRequestedOutput(contract.RESULT.name)])
    return json.loads(response.as_numpy(contract.RESULT.name)[0][0])


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_page_through_ensemble(triton_server, page_bytes, form_page, protocol):
    module, url = (grpcclient, triton_server.grpc_url) if protocol == "grpc" else (httpclient, triton_server.http_url)
    result = raw_infer(module, url, page_bytes)
    page = result["pages"][0]
    image, truth = form_page
    assert (page["width"], page["height"]) == image.size
    texts = [w["text"] for w in page["words"]]
    assert sum(word in texts for word, _ in truth) / len(truth) >= 0.9
    assert result["labels"][0] == "O" and len(result["labels"]) == 7
    assert page["entities"], "a random model still tags some words as entities"
    for entity in page["entities"]:
        boxes = np.array([page["words"][i]["box"] for i in entity["words"]])
        assert entity["box"] == [boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()]
        assert entity["label"] in {tag.split("-", 1)[-1] for tag in result["labels"]}
        assert 0 < entity["score"] <= 1


def test_served_equals_in_process(triton_server, page_bytes, reference):
    served = raw_infer(grpcclient, triton_server.grpc_url, page_bytes)["pages"][0]
    local = reference["pages"][0]
    assert [w["text"] for w in served["words"]] == [w["text"] for w in local["words"]]
    assert [w["label"] for w in served["words"]] == [w["label"] for w in local["words"]]
    np.testing.assert_allclose([w["score"] for w in served["words"]], [w["score"] for w in local["words"]], atol=1e-5)
    assert served["entities"] == local["entities"] or [e["words"] for e in served["entities"]] == [
        e["words"] for e in local["entities"]
    ]


def test_batched_requests_match_single(triton_server, page_bytes, reference):
    """Concurrent requests are batched by Triton; each answer must equal the lone one."""
    from pages import render_lines

    other = png_bytes(render_lines(["Total: 99.50 EUR", "Signature"], size=(700, 300))[0])
    docs = [page_bytes, other] * 4
    with DocumentClient(triton_server.grpc_url) as client:
        outcomes = list(client.infer_many(docs, concurrency=8, ordered=True))
    assert all(o.ok for o in outcomes)
    for o in outcomes[::2]:
        assert [w["label"] for w in o.result["pages"][0]["words"]] == [
            w["label"] for w in reference["pages"][0]["words"]
        ]
    assert len({json.dumps(o.result) for o in outcomes[1::2]}) == 1


def test_corrupt_image_alongside_good_one(triton_server, page_bytes, reference):
    corrupt = page_bytes[: len(page_bytes) // 3]
    with DocumentClient(triton_server.grpc_url) as client, ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(client.infer, d) for d in (corrupt, page_bytes, b"not an image at all", page_bytes)]
        for bad in (futures[0], futures[2]):
            with pytest.raises(InferenceError) as info:
                bad.result()
            assert "preprocess" in str(info.value) and "decode image" in str(info.value)
        for good in (futures[1], futures[3]):
            assert good.result()["pages"][0]["entities"] == reference["pages"][0]["entities"]
        assert client.ready()


def test_cli_infer_prints_one_result_per_file(triton_server, page_bytes, tmp_path):
    (tmp_path / "form.png").write_bytes(page_bytes)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "layoutlmv3_client",
            "infer",
            str(tmp_path / "form.png"),
            str(tmp_path / "broken.png"),
            "--url",
            triton_server.http_url,
            "--protocol",
            "http",
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr  # one file failed, the other succeeded
    records = json.loads(out.read_text())
    assert records[0]["result"]["pages"][0]["words"] and "error" in records[1]
    assert "preprocess" in records[1]["error"]["message"]
