"""Each step's model-config parameters survive the trip through config.pbtxt."""

from __future__ import annotations

import dataclasses

import pytest

from layoutlmv3_triton import contract
from layoutlmv3_triton.repository.configs import ServingOptions, all_configs
from layoutlmv3_triton.serving.limits import Limits
from layoutlmv3_triton.serving.ocr import OcrConfig
from layoutlmv3_triton.serving.settings import ModelParameters, PostprocessParameters, PreprocessParameters

CHANGED = {
    contract.PREPROCESS: PreprocessParameters(
        ocr=OcrConfig(lang="eng+deu", psm=6, tessdata="/opt/tessdata", min_confidence=12.5),
        limits=Limits(
            max_request_bytes=1000, max_image_pixels=2000, max_image_side=300, max_pdf_pages=4, max_windows=9
        ),
        pdf_dpi=200,
        window_stride=64,
        max_windows_per_page=3,
    ),
    contract.MODEL: ModelParameters(
        onnx_file="other.onnx",
        intra_op_threads=3,
        allow_spinning=True,
        graph_optimization="basic",
        pad_across_lengths=True,
    ),
    contract.POSTPROCESS: PostprocessParameters(model_config_file="labels.json"),
}


def served_parameters(model: str, options: ServingOptions) -> dict[str, str]:
    return {k: v.string_value for k, v in all_configs(options)[model].parameters.items()}


@pytest.mark.parametrize("model", sorted(CHANGED))
def test_each_step_round_trips_through_its_config(model):
    params = CHANGED[model]
    field = {contract.PREPROCESS: "preprocess", contract.MODEL: "model", contract.POSTPROCESS: "postprocess"}[model]
    options = ServingOptions(**{field: params})
    assert type(params).from_parameters(served_parameters(model, options)) == params
    assert type(params).from_parameters(served_parameters(model, ServingOptions())) == type(params)()


def test_every_field_is_written_and_defaults_are_the_dataclass_defaults():
    written = served_parameters(contract.PREPROCESS, ServingOptions())
    for f in dataclasses.fields(OcrConfig):
        assert f"ocr_{f.name}" in written
    for f in dataclasses.fields(Limits):
        assert written[f.name] == str(f.default)
    assert written["pdf_dpi"] == str(PreprocessParameters().pdf_dpi)


@pytest.mark.parametrize("key, value", [("ocr_psm", "eleven"), ("pdf_dpi", "1.5"), ("max_windows", "-1")])
def test_a_bad_value_names_its_parameter(key, value):
    with pytest.raises(ValueError, match=key):
        PreprocessParameters.from_parameters({key: value})


def test_booleans_are_strict():
    assert ModelParameters.from_parameters({"allow_spinning": "yes"}).allow_spinning is True
    with pytest.raises(ValueError, match="allow_spinning"):
        ModelParameters.from_parameters({"allow_spinning": "maybe"})
