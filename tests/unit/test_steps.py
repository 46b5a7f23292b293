"""The three Triton step models, run without a server through a fake
``triton_python_backend_utils``: one response per request, and a failure, expected or
not, answers only its own request."""

from __future__ import annotations

import json

import fake_pb_utils
import numpy as np
import pytest
from pages import FORM_LINES, png_bytes, render_lines

from layoutlmv3_triton import contract
from layoutlmv3_triton.records import PageRecord
from layoutlmv3_triton.serving.steps import onnx_model, postprocess, preprocess, triton_io


@pytest.fixture(autouse=True)
def fake_backend(monkeypatch):
    monkeypatch.setattr(triton_io, "pb_utils", fake_pb_utils.install())


def documents_request(*documents: bytes):
    return fake_pb_utils.InferenceRequest(document=np.array([[d] for d in documents], dtype=object))


@pytest.fixture(scope="module")
def page():
    return png_bytes(render_lines(FORM_LINES[:6])[0])


@pytest.fixture(scope="module")
def pre(tiny_repository):
    model = preprocess.TritonPythonModel()
    triton_io.pb_utils = fake_pb_utils.install()  # initialize reads output dtypes through it
    model.initialize(fake_pb_utils.initialize_args(tiny_repository, contract.PREPROCESS))
    yield model
    model.finalize()


def test_preprocess_answers_each_request_on_its_own(pre, page):
    requests = [
        documents_request(page),
        documents_request(b"not an image"),
        fake_pb_utils.InferenceRequest(),
        documents_request(page, page),
    ]
    responses = pre.execute(requests)
    assert len(responses) == len(requests)
    good, undecodable, empty, two = responses
    assert not good.has_error() and not two.has_error()
    outputs = good.outputs()
    assert set(outputs) == {t.name for t in contract.PREPROCESS_OUTPUTS}
    assert outputs[contract.INPUT_IDS.name].dtype == np.int64
    record = PageRecord.from_json(outputs[contract.PAGE_WORDS.name][0, 0])
    assert record.page == 0 and record.source == "ocr" and len(record.words) == len(record.boxes) > 0
    assert two.outputs()[contract.INPUT_IDS.name].shape[0] == 2
    assert undecodable.error.message().startswith("preprocess: ")
    assert undecodable.error.code() == fake_pb_utils.TritonError.INVALID_ARG
    assert "carried no 'document'" in empty.error.message()


def test_an_unexpected_failure_building_outputs_fails_only_its_request(pre, page, monkeypatch):
    real = preprocess.stack_windows
    calls = []

    def flaky(windows, dtypes=None):
        calls.append(len(windows))
        if len(calls) == 2:
            raise MemoryError("simulated failure while stacking")
        return real(windows, dtypes)

    monkeypatch.setattr(preprocess, "stack_windows", flaky)
    responses = pre.execute([documents_request(page), documents_request(page), documents_request(page)])
    assert [r.has_error() for r in responses] == [False, True, False]
    assert responses[1].error.code() == fake_pb_utils.TritonError.INTERNAL
    assert "internal error: MemoryError" in responses[1].error.message()


def test_a_failure_of_the_whole_batch_falls_back_to_each_request(pre, page, monkeypatch):
    real = pre.pre.process

    def fails_on_batches(documents, words=None):
        if len(documents) > 1:
            raise RuntimeError("simulated batch failure")
        return real(documents, words)

    monkeypatch.setattr(pre.pre, "process", fails_on_batches)
    responses = pre.execute([documents_request(page), documents_request(b"junk")])
    assert not responses[0].has_error() and responses[1].has_error()


@pytest.fixture(scope="module")
def model_step(tiny_repository):
    model = onnx_model.TritonPythonModel()
    model.initialize(fake_pb_utils.initialize_args(tiny_repository, contract.MODEL))
    return model


def model_request(pre_outputs: dict[str, np.ndarray], **changes):
    inputs = {t.name: pre_outputs[t.name] for t in contract.MODEL_INPUTS}
    inputs.update(changes)
    return fake_pb_utils.InferenceRequest(**inputs)


def test_model_step_isolates_bad_inputs_and_failed_runs(pre, model_step, page, monkeypatch):
    outputs = pre.execute([documents_request(page)])[0].outputs()
    bad_ids = outputs[contract.INPUT_IDS.name].copy()
    bad_ids[0, 1] = 10**9  # out of the vocabulary
    requests = [model_request(outputs), model_request(outputs, input_ids=bad_ids), model_request(outputs)]
    responses = model_step.execute(requests)
    assert [r.has_error() for r in responses] == [False, True, False]
    logits = responses[0].outputs()[contract.LOGITS.name]
    assert logits.shape[:2] == outputs[contract.INPUT_IDS.name].shape

    def broken(*args, **kwargs):
        raise RuntimeError("simulated onnxruntime failure")

    monkeypatch.setattr(model_step.model, "run_many", broken)
    again = model_step.execute([model_request(outputs), model_request(outputs)])
    assert [r.has_error() for r in again] == [False, False]  # one run each recovers
    np.testing.assert_allclose(again[0].outputs()[contract.LOGITS.name], logits, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def post(tiny_repository):
    model = postprocess.TritonPythonModel()
    model.initialize(fake_pb_utils.initialize_args(tiny_repository, contract.POSTPROCESS))
    return model


def test_postprocess_rejects_a_malformed_page_record_for_its_request_only(pre, model_step, post, page):
    outputs = pre.execute([documents_request(page)])[0].outputs()
    logits = model_step.execute([model_request(outputs)])[0].outputs()[contract.LOGITS.name]

    def request(page_words):
        return fake_pb_utils.InferenceRequest(
            logits=logits, word_ids=outputs[contract.WORD_IDS.name], page_words=page_words
        )

    malformed = np.array([[json.dumps({"page": 0, "words": ["a"], "boxes": []}).encode()]], dtype=object)
    good, bad = post.execute([request(outputs[contract.PAGE_WORDS.name]), request(malformed)])
    result = json.loads(good.outputs()[contract.RESULT.name][0, 0])
    assert len(result["pages"]) == 1 and result["pages"][0]["words"]
    assert bad.error.message().startswith("postprocess: malformed page record")
    assert bad.error.code() == fake_pb_utils.TritonError.INVALID_ARG
