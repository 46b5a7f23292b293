"""The bad-input corpus against the real server.

Every case gets its own clear answer (an INVALID_ARG error naming the stage and the
reason, or a valid result), while a good page sent at the same time and one sent right
after get exactly the answer the good page gets alone, and the server stays ready.
"""

from __future__ import annotations

import urllib.request
from concurrent.futures import ThreadPoolExecutor

import bad_inputs
import numpy as np
import pytest
from bad_inputs import CORE, Case, Outcome, send

from layoutlmv3_triton import contract

GOOD = bad_inputs.Case("good", "result", bad_inputs.good_png)


def assert_same_result(got: dict, want: dict) -> None:
    """Equal up to float noise: a page batched with others is padded differently."""
    (g,), (w,) = got["pages"], want["pages"]
    for key in ("text", "box", "label"):
        assert [x[key] for x in g["words"]] == [x[key] for x in w["words"]], key
    np.testing.assert_allclose([x["score"] for x in g["words"]], [x["score"] for x in w["words"]], atol=1e-4)
    strip = [{k: v for k, v in e.items() if k != "score"} for e in g["entities"]]
    assert strip == [{k: v for k, v in e.items() if k != "score"} for e in w["entities"]]
    assert (g["width"], g["height"], g["truncated_words"]) == (w["width"], w["height"], w["truncated_words"])


def assert_expected(case: Case, outcome: Outcome) -> None:
    if case.expect == "result":
        assert outcome.ok, f"{case.name}: {outcome.status} {outcome.message}"
        page = outcome.result["pages"][0]
        assert {"words", "entities", "truncated_words"} <= set(page)
        if case.check:
            case.check(outcome.result)
        return
    assert not outcome.ok, f"{case.name} was accepted: {outcome.result}"
    message = outcome.message.lower()
    # Bad input is the client's fault: INVALID_ARG, never INTERNAL.
    assert outcome.status == "StatusCode.INVALID_ARGUMENT", (outcome.status, outcome.message)
    if case.stage == CORE:  # refused by Triton's own request checks, which name the model
        assert f"'{contract.ENSEMBLE}'" in message, message
    else:
        assert f"{case.stage}: " in message, message
    assert case.reason in message, message
    assert "internal error" not in message and "traceback" not in message


def server_ready(server) -> bool:
    url = f"http://{server.http_url}/v2/models/{contract.ENSEMBLE}/ready"
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status == 200


@pytest.fixture(scope="module")
def good_alone(triton_server) -> dict:
    outcome = send(triton_server.grpc_url, GOOD)
    assert outcome.ok, outcome.message
    assert outcome.result["pages"][0]["words"]
    return outcome.result


def test_corpus_has_every_required_kind():
    required = {
        "zero_bytes",
        "random_bytes",
        "truncated_png",
        "truncated_jpeg",
        "text_named_png",
        "one_pixel",
        "blank_white",
        "all_black",
        "bomb_30000x30000",
        "tiff_16bit",
        "cmyk_jpeg",
        "animated_gif",
        "dense_page",
        "wrong_input_name",
        "wrong_dtype",
        "wrong_shape",
        "empty_batch",
    }
    assert required <= set(bad_inputs.BY_NAME) and len(bad_inputs.CASES) >= 15


@pytest.mark.parametrize("case", bad_inputs.CASES, ids=lambda c: c.name)
def test_bad_input_alongside_and_before_a_good_one(triton_server, good_alone, case):
    url = triton_server.grpc_url
    with ThreadPoolExecutor(3) as pool:
        bad = pool.submit(send, url, case)
        goods = [pool.submit(send, url, GOOD) for _ in range(2)]
        outcome = bad.result(timeout=120)
        alongside = [g.result(timeout=120) for g in goods]
    assert_expected(case, outcome)
    for good in alongside:
        assert good.ok, good.message
        assert_same_result(good.result, good_alone)
    assert server_ready(triton_server)
    after = send(url, GOOD)
    assert after.ok, after.message
    assert_same_result(after.result, good_alone)


def test_client_reports_a_text_file_named_png_as_bad_input(triton_server, tmp_path):
    from layoutlmv3_client import DocumentClient
    from layoutlmv3_client.errors import BadInputError

    path = tmp_path / "page.png"
    path.write_bytes(bad_inputs.BY_NAME["text_named_png"].document())
    with DocumentClient(triton_server.grpc_url) as client:
        with pytest.raises(BadInputError) as info:
            client.infer(path.read_bytes())
    assert info.value.stage == "preprocess" and "INVALID_ARGUMENT" in str(info.value.status)
