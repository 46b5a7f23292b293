"""Every config.pbtxt parses with model_config_pb2 and matches the contract."""

from pathlib import Path

import pytest
from tritonclient.grpc import model_config_pb2 as pb

from layoutlmv3_triton import contract
from layoutlmv3_triton.repository import configs
from layoutlmv3_triton.repository.configs import MODEL_VARIANTS, ServingOptions
from layoutlmv3_triton.repository.writer import BACKEND_MODULES, model_py_source

REPO = Path(__file__).resolve().parents[2] / "model_repository"


def io_signature(items):
    return [(i.name, pb.DataType.Name(i.data_type), list(i.dims)) for i in items]


def contract_signature(tensors):
    return [(t.name, t.config_dtype, list(t.dims)) for t in tensors]


@pytest.mark.parametrize("variant", MODEL_VARIANTS)
def test_variants_round_trip_and_match_contract(variant):
    options = ServingOptions(variant=variant)
    rendered = {name: configs.parse(configs.render(cfg)) for name, cfg in configs.all_configs(options).items()}
    model = rendered[contract.MODEL]
    expected_inputs = contract_signature(configs.step_tensors(contract.MODEL_INPUTS, options))
    assert io_signature(model.input) == expected_inputs
    assert io_signature(model.output) == contract_signature(contract.MODEL_OUTPUTS)
    pre = rendered[contract.PREPROCESS]
    assert io_signature(pre.output) == contract_signature(configs.step_tensors(contract.PREPROCESS_OUTPUTS, options))
    # tensors flowing between steps agree in dtype, whatever the variant
    assert [i for i in io_signature(pre.output) if i[0] in {t.name for t in contract.MODEL_INPUTS}] == expected_inputs
    if variant == "tensorrt-plan":
        assert model.platform == "tensorrt_plan" and all(i.data_type != pb.TYPE_INT64 for i in model.input)
    elif variant == "local":
        assert model.backend == "python" and model.input[0].allow_ragged_batch
    else:
        assert model.backend == "onnxruntime" and not any(i.allow_ragged_batch for i in model.input)
    assert (model.instance_group[0].kind == pb.ModelInstanceGroup.KIND_GPU) == options.gpu
    assert bool(model.model_warmup) == options.gpu


def test_ensemble_wires_every_step_output_to_an_input():
    ens = configs.ensemble_config(ServingOptions())
    produced = {t.name for t in contract.ENSEMBLE_INPUTS}
    for step in ens.ensemble_scheduling.step:
        assert set(step.input_map.values()) <= produced, step.model_name
        produced |= set(step.output_map.values())
    assert [s.model_name for s in ens.ensemble_scheduling.step] == [
        contract.PREPROCESS,
        contract.MODEL,
        contract.POSTPROCESS,
    ]
    assert io_signature(ens.input) == contract_signature(contract.ENSEMBLE_INPUTS)
    assert io_signature(ens.output) == contract_signature(contract.ENSEMBLE_OUTPUTS)


def test_every_step_has_a_bounded_queue():
    for name, cfg in configs.all_configs(ServingOptions()).items():
        if name != contract.ENSEMBLE:
            policy = cfg.dynamic_batching.default_queue_policy
            assert policy.max_queue_size > 0 and policy.timeout_action == pb.ModelQueuePolicy.REJECT


def test_committed_repository_is_what_build_repo_writes():
    """model_repository/ in git is the local variant exactly as `make repo` writes it for the demo
    model (whose box level reaches the preprocess config), so that `make demo` leaves git clean."""
    from layoutlmv3_triton.repository.writer import with_box_level
    from layoutlmv3_triton.training.config import DEMO_RECIPE

    options = with_box_level(ServingOptions(), DEMO_RECIPE["box_level"])
    for name, cfg in configs.all_configs(options).items():
        assert (REPO / name / "config.pbtxt").read_text() == configs.render(cfg), f"regenerate {name}/config.pbtxt"
    for name in BACKEND_MODULES:
        assert (REPO / name / "1" / "model.py").read_text() == model_py_source(name)
