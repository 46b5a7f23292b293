"""Limits: safe defaults, parsing from model-config parameters, and the configs that carry them."""

from __future__ import annotations

import pytest

from layoutlmv3_triton import contract
from layoutlmv3_triton.repository.configs import ServingOptions, all_configs
from layoutlmv3_triton.serving.limits import Limits
from layoutlmv3_triton.serving.settings import PreprocessParameters


def test_defaults_are_bounded():
    limits = Limits()
    assert limits.max_request_bytes <= 32 * 1024 * 1024
    assert limits.max_image_pixels <= 89_478_485  # below Pillow's own bomb warning
    assert limits.max_image_side <= 20_000
    assert 1 <= limits.max_pdf_pages <= 100


def test_from_parameters_reads_ints_and_ignores_others():
    limits = Limits.from_parameters({"max_image_pixels": "1000", "max_pdf_pages": "3", "ocr_lang": "eng"})
    assert (limits.max_image_pixels, limits.max_pdf_pages) == (1000, 3)
    assert limits.max_request_bytes == Limits().max_request_bytes


@pytest.mark.parametrize("params", [{"max_image_pixels": "many"}, {"max_request_bytes": "0"}, {"max_image_side": "-1"}])
def test_bad_parameters_fail_loudly(params):
    with pytest.raises(ValueError, match=next(iter(params))):
        Limits.from_parameters(params)


def test_limits_reach_the_preprocess_config():
    limits = Limits(max_request_bytes=1234, max_image_pixels=5678, max_image_side=90, max_pdf_pages=2)
    cfg = all_configs(ServingOptions(preprocess=PreprocessParameters(limits=limits)))[contract.PREPROCESS]
    params = {k: v.string_value for k, v in cfg.parameters.items()}
    assert Limits.from_parameters(params) == limits


def test_every_step_has_a_rejecting_queue_policy():
    from tritonclient.grpc import model_config_pb2 as pb

    options = ServingOptions(max_queue_size=3, queue_timeout_us=1_000_000)
    for name, cfg in all_configs(options).items():
        if name == contract.ENSEMBLE:
            continue  # the ensemble has no queue of its own: its steps' queues bound it
        policy = cfg.dynamic_batching.default_queue_policy
        assert policy.max_queue_size == 3, name
        assert policy.default_timeout_microseconds == 1_000_000, name
        assert policy.timeout_action == pb.ModelQueuePolicy.REJECT, name
