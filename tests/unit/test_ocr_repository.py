"""The ppocr engine in a model repository: its two models' configs rendered from the contract,
the engine each variant gets by default, and what build-repo writes and removes."""

import pytest
from tritonclient.grpc import model_config_pb2 as pb

from layoutlmv3_triton import contract
from layoutlmv3_triton.repository import configs
from layoutlmv3_triton.repository.configs import MODEL_VARIANTS, ServingOptions
from layoutlmv3_triton.repository.manifest import check_repository, reads_with_ppocr
from layoutlmv3_triton.repository.writer import with_ocr_engine, write_configs, write_ocr_models


def signature(items):
    return [(i.name, pb.DataType.Name(i.data_type), list(i.dims)) for i in items]


def contract_signature(tensors):
    return [(t.name, t.config_dtype, list(t.dims)) for t in tensors]


@pytest.mark.parametrize("variant", MODEL_VARIANTS)
def test_each_variant_gets_its_default_engine_and_the_ocr_models_follow_the_contract(variant):
    options = with_ocr_engine(ServingOptions(variant=variant), None)
    assert options.preprocess.ocr.engine == ("ppocr" if options.gpu else "tesseract")
    rendered = {
        name: configs.parse(configs.render(cfg))
        for name, cfg in configs.all_configs(with_ocr_engine(options, "ppocr")).items()
    }
    pre = rendered[contract.PREPROCESS]
    assert pre.parameters["ocr_engine"].string_value == "ppocr"
    assert "ppocr_text_height" in pre.parameters
    for name, inputs, outputs in (
        (contract.OCR_DETECTION, contract.OCR_DETECTION_INPUTS, contract.OCR_DETECTION_OUTPUTS),
        (contract.OCR_RECOGNITION, contract.OCR_RECOGNITION_INPUTS, contract.OCR_RECOGNITION_OUTPUTS),
    ):
        cfg = rendered[name]
        assert signature(cfg.input) == contract_signature(inputs)
        assert signature(cfg.output) == contract_signature(outputs)
        assert cfg.dynamic_batching.default_queue_policy.max_queue_size > 0
        assert (cfg.instance_group[0].kind == pb.ModelInstanceGroup.KIND_GPU) == options.gpu
        if variant == "local":
            assert cfg.backend == "python" and cfg.instance_group[0].count == options.preprocess_instances
        else:
            assert cfg.backend == "onnxruntime" and cfg.default_model_filename == contract.ONNX_FILE
        accelerators = {a.name: a for a in cfg.optimization.execution_accelerators.gpu_execution_accelerator}
        if variant == "onnxruntime-trt":
            profile = accelerators["tensorrt"].parameters
            assert profile["trt_profile_max_shapes"].startswith(f"{inputs[0].name}:{cfg.max_batch_size}x3x")
        elif options.gpu:
            assert accelerators["cuda"].parameters["cudnn_conv_algo_search"] == "HEURISTIC"
    # a recognition request of rec_batch lines fits, with room for the batcher to join two
    assert rendered[contract.OCR_RECOGNITION].max_batch_size == 2 * options.preprocess.ppocr.rec_batch


def test_tesseract_repositories_have_no_ocr_models():
    assert set(configs.all_configs(ServingOptions())) == set(contract.ALL_MODELS)


def test_build_repo_writes_the_ocr_models_and_drops_them_again(tmp_path):
    pytest.importorskip("onnx")
    from layoutlmv3_triton.errors import RepositoryError
    from layoutlmv3_triton.export.ppocr import DETECTION_FILE, package_file

    try:
        package_file(DETECTION_FILE)
    except RepositoryError as exc:
        pytest.skip(str(exc))
    ppocr = with_ocr_engine(ServingOptions(), "ppocr")
    write_configs(tmp_path, ppocr)
    written = write_ocr_models(tmp_path, ppocr)
    assert reads_with_ppocr(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        f"{contract.OCR_DETECTION}/1/{contract.ONNX_FILE}",
        f"{contract.OCR_RECOGNITION}/1/{contract.ONNX_FILE}",
        f"{contract.PREPROCESS}/1/{contract.OCR_CHARSET_FILE}",
    ]
    chars = (tmp_path / contract.PREPROCESS / "1" / contract.OCR_CHARSET_FILE).read_text().split("\n")[:-1]
    assert chars[0] == "" and chars[-1] == " " and {"A", "z", "0", "€", "/"} <= set(chars) and "中" not in chars
    assert "Apache" in (tmp_path / contract.OCR_RECOGNITION / "NOTICE").read_text()
    missing = [p for p in check_repository(tmp_path) if "ocr" in p]
    assert missing == []
    (tmp_path / contract.OCR_RECOGNITION / "1" / contract.ONNX_FILE).unlink()
    assert any(contract.OCR_RECOGNITION in p for p in check_repository(tmp_path))
    write_configs(tmp_path, ServingOptions())  # rebuilt for Tesseract
    assert not reads_with_ppocr(tmp_path)
    assert not any((tmp_path / name).exists() for name in contract.OCR_MODELS)
    assert not (tmp_path / contract.PREPROCESS / "1" / contract.OCR_CHARSET_FILE).exists()


def test_the_workflow_image_installs_the_measured_rapidocr_without_its_dependencies():
    from pathlib import Path

    from layoutlmv3_triton.export.ppocr import DISTRIBUTION, DISTRIBUTION_VERSION

    dockerfile = (Path(__file__).resolve().parents[2] / "docker" / "workflow.Dockerfile").read_text()
    assert f'pip install --no-cache-dir --no-deps "{DISTRIBUTION}=={DISTRIBUTION_VERSION}"' in dockerfile


def test_the_workflow_image_check_finds_the_ppocr_files():
    from layoutlmv3_triton.images.checks import check_ppocr_files

    pytest.importorskip("onnx")
    try:
        note = check_ppocr_files()
    except Exception as exc:  # noqa: BLE001 - no wheel here: nothing to check
        pytest.skip(str(exc))
    assert "PP-OCR's ONNX files" in note
