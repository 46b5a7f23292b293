"""The GPU-host path works on its first run (issues 16 and 25), checked without Docker or a GPU.

- one current release pin for every image, and the local path's 2.51 said in the docs;
- the Model Analyzer stage takes what the 26.x SDK image really has: the py3-none-any
  tritonclient wheel, perf_analyzer from PyPI (no /workspace/install/bin/perf_analyzer);
- the workflow image keeps NGC's pre-release torch, and its build check: transformers sees
  torch, a tiny LayoutLMv3 loads;
- the onnxruntime-trt variant carries build-trt's optimisation profile and an engine cache on
  a volume, and asks for no precision TensorRT 11 cannot give;
- the images install the tested versions (docker/constraints.txt) and a lean server extra;
- the python backend's shared memory holds one preprocess response.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

from fnmatch import fnmatch  # noqa: E402

from packaging.requirements import Requirement  # noqa: E402

from layoutlmv3_triton import contract  # noqa: E402
from layoutlmv3_triton.export.tensorrt import ORT_TRT_ENGINE_CACHE, optimization_profiles  # noqa: E402
from layoutlmv3_triton.images import constraints  # noqa: E402
from layoutlmv3_triton.repository import python_backend  # noqa: E402
from layoutlmv3_triton.repository.configs import ServingOptions, model_config, preprocess_config  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
CONSTRAINTS = DOCKER / "constraints.txt"
LOCK = REPO / "requirements" / "lock.txt"
DOCS = REPO / "docs" / "production.md"


def dotenv() -> dict[str, str]:
    lines = (REPO / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def joined(path: Path) -> str:
    """A Dockerfile with its line continuations joined."""
    return re.sub(r"\\\n\s*", " ", path.read_text())


# --- 0. one current release pin -------------------------------------------------------------


def test_one_current_release_pin_for_every_image():
    release = dotenv()["TRITON_RELEASE"]
    # 25.04 is the first NGC PyTorch whose torch (2.7.0a0) transformers 5 accepts; 2.65/2.66
    # (25.08/25.09) fixed the stub-crash, memory-exhaustion and header-crash bugs.
    assert tuple(map(int, release.split("."))) >= (25, 9), release
    for dockerfile in DOCKER.glob("*.Dockerfile"):
        pins = set(re.findall(r"^ARG TRITON_RELEASE=(\S+)", dockerfile.read_text(), re.M))
        assert pins == {release}, f"{dockerfile.name}: {pins}"
    defaults = set(re.findall(r"\$\{TRITON_RELEASE:-([^}]+)\}", (REPO / "docker-compose.yml").read_text()))
    assert defaults == {release}
    # Model Analyzer, tritonclient and perf_analyzer as the SDK image of the same pin has them.
    server = joined(DOCKER / "server.Dockerfile")
    assert "FROM nvcr.io/nvidia/tritonserver:${TRITON_RELEASE}-py3-sdk AS sdk" in server
    assert "model_analyzer/archive/refs/heads/r${TRITON_RELEASE}.tar.gz" in server
    for path in (
        REPO / ".env",
        REPO / ".env.example",
        REPO / "docker-compose.yml",
        REPO / "build.sh",
        *DOCKER.glob("*"),
    ):
        text = path.read_text()
        assert "TRITON_CLIENT_VERSION" not in text and "MODEL_ANALYZER_VERSION" not in text, path.name


def dockerfile_stage(path: Path, name: str) -> str:
    """One stage of a Dockerfile (continuations joined), from its FROM line to the next."""
    stages = re.split(r"^(?=FROM )", joined(path), flags=re.M)
    return next(stage for stage in stages if re.match(rf"FROM \S+ AS {name}\s", stage))


# The SDK image's Python client wheels, by release (server qa/L0_sdk/test.sh): 2.x..26.04 shipped
# both, 26.05 on (server commit 18aae79b6, "add auditwheel to Dockerfile.sdk") only the any wheel.
SDK_WHEELS_BEFORE_26_05 = ("tritonclient-2.68.0-py3-none-any.whl", "tritonclient-2.68.0-py3-none-manylinux1_x86_64.whl")
SDK_WHEELS_FROM_26_05 = ("tritonclient-2.75.0-py3-none-any.whl",)


def test_model_analyzer_installs_the_tritonclient_wheel_the_sdk_image_has():
    stage = dockerfile_stage(DOCKER / "server.Dockerfile", "model-analyzer")
    (pattern,) = re.findall(r"find /tmp/sdk-python -maxdepth 1 -name '([^']+)'", stage)
    assert [w for w in SDK_WHEELS_FROM_26_05 if fnmatch(w, pattern)] == list(SDK_WHEELS_FROM_26_05)
    assert [w for w in SDK_WHEELS_BEFORE_26_05 if fnmatch(w, pattern)] == [SDK_WHEELS_BEFORE_26_05[0]]
    assert not fnmatch("tritonclient-2.75.0-py3-none-manylinux1_x86_64.whl", pattern)
    assert '"${client}[all]"' in stage  # [all] brings perf_analyzer (the perf_analyzer extra, PyPI)
    assert "COPY --from=sdk /workspace/install/python/ /tmp/sdk-python/" in stage


def test_perf_analyzer_comes_from_pypi_at_the_sdk_images_version():
    """Since 25.10 (server commit eb9599214) the SDK image pip-installs perf_analyzer: no binary
    under /workspace/install/bin to copy, and the console script always exits 0, so the check
    reads its output instead of trusting its exit status or running ldd on a script."""
    instructions = "\n".join(
        line for line in joined(DOCKER / "server.Dockerfile").splitlines() if not line.lstrip().startswith("#")
    )
    assert "/workspace/install/bin/perf_analyzer" not in instructions and "ldd " not in instructions
    sdk = dockerfile_stage(DOCKER / "server.Dockerfile", "sdk")
    assert "grep -iE '^perf[-_]analyzer==' > /workspace/perf-analyzer.txt" in sdk
    stage = dockerfile_stage(DOCKER / "server.Dockerfile", "model-analyzer")
    assert "COPY --from=sdk /workspace/perf-analyzer.txt /tmp/perf-analyzer.txt" in stage
    install = next(line for line in stage.splitlines() if '"${client}[all]"' in line)
    assert "PIP_CONSTRAINT=/tmp/perf-analyzer.txt python3 -m pip install" in install
    assert 'version="$(perf_analyzer --version 2>&1)"' in install  # the binary answers --version, not --help
    assert '*"Perf Analyzer Version"*' in install and "model-analyzer --help" in install


def test_model_analyzer_user_owns_the_tensorrt_engine_cache():
    stage = dockerfile_stage(DOCKER / "server.Dockerfile", "model-analyzer")
    assert f'chown "${{USER_UID}}" {ORT_TRT_ENGINE_CACHE}' in stage
    assert stage.index(f'chown "${{USER_UID}}" {ORT_TRT_ENGINE_CACHE}') < stage.index("USER ${USER_UID}")


def test_docs_say_where_perf_analyzer_comes_from():
    text = " ".join(DOCS.read_text().split())
    assert "perf_analyzer from PyPI" in text and "tritonclient-<version>-py3-none-any.whl" in text
    assert "perf_analyzer and Model Analyzer come from the SDK image" not in text


def test_docs_say_the_local_path_stays_on_2_51():
    text = " ".join(DOCS.read_text().split())
    assert f"The default, {dotenv()['TRITON_RELEASE']}, is Triton 2.75.0" in text
    assert "stays on tritonserver 2.51" in text and "glibc 2.38" in text


# --- 1. the workflow image keeps NGC's torch and loads LayoutLMv3 ---------------------------

# NGC PyTorch images ship the next torch as a pre-release with a local label; the workflow image
# pins the one installed (docker/workflow.Dockerfile), so the project's range must admit it.
NGC_TORCH = ("2.14.0a0+4f4d3d5c1f.nv26.11", "2.15.0a0+0123abcd.nv27.02", "3.0.0a0+0123abcd.nv27.08")
# Upper bounds on what the images install fight NGC's own pins (/etc/pip/constraint.txt) as soon
# as an image ships a newer version: each one must say why it is safe.
UPPER_BOUNDS = {"wordfreq": "NGC images do not ship it; 4.x changes the word lists the tokenizer and synth pages use"}


def test_the_torch_range_admits_ngc_prereleases_and_the_local_pin():
    makefile_pin = re.search(r"^TORCH := torch==(\S+)", (REPO / "Makefile").read_text(), re.M).group(1)
    torch = [
        Requirement(r)
        for r in constraints.project_requirements(REPO / "pyproject.toml", ("train", "notebook"))
        if constraints.requirement_name(r) == "torch"
    ]
    assert torch, "the workflow image's extras no longer name torch"
    for requirement in torch:
        for version in NGC_TORCH:
            assert requirement.specifier.contains(version, prereleases=True), f"{requirement} rejects NGC's {version}"
        assert requirement.specifier.contains(makefile_pin)
    # what the issue found: an exclusive upper bound excludes the pre-releases of its own version
    assert not Requirement("torch>=2.4,<2.14").specifier.contains(NGC_TORCH[0], prereleases=True)


def test_upper_bounds_in_the_image_extras_are_justified():
    bounded = set()
    for line in constraints.project_requirements(REPO / "pyproject.toml"):
        requirement = Requirement(line)
        if any(spec.operator in ("<", "<=", "==", "~=", "===") for spec in requirement.specifier):
            bounded.add(constraints.canonical(requirement.name))
    assert bounded == set(UPPER_BOUNDS), f"upper bounds in the image extras: {sorted(bounded)}"


def test_workflow_build_check_asserts_torch_and_a_tiny_model():
    text = joined(DOCKER / "workflow.Dockerfile")
    install = next(line for line in text.splitlines() if '".[train,notebook]"' in line)
    assert "python -m layoutlmv3_triton.images.checks workflow" in install  # same RUN: no stale layer


def test_workflow_image_check_passes_here(tmp_path):
    pytest.importorskip("torch")
    from layoutlmv3_triton.images.checks import check_workflow

    notes = check_workflow(tmp_path)
    assert "sees torch" in notes[0] and "labelled a page" in notes[1]


def test_workflow_image_check_fails_when_transformers_disables_torch(monkeypatch):
    pytest.importorskip("torch")
    import transformers.utils

    from layoutlmv3_triton.images.checks import ImageCheckError, check_transformers_sees_torch

    monkeypatch.setattr(transformers.utils, "is_torch_available", lambda: False)
    with pytest.raises(ImageCheckError, match="below 2.6"):
        check_transformers_sees_torch()


# --- 3. onnxruntime-trt: profiles, the graph's precision, cache on a volume ------------------


def _shapes(spec: str) -> dict[str, tuple[int, ...]]:
    return {
        name: tuple(int(d) for d in dims.split("x")) for name, dims in (item.split(":") for item in spec.split(","))
    }


def test_onnxruntime_trt_config_carries_build_trts_profile():
    cfg = model_config(ServingOptions(variant="onnxruntime-trt"))
    (accel,) = cfg.optimization.execution_accelerators.gpu_execution_accelerator
    params = dict(accel.parameters)
    (profile,) = optimization_profiles(cfg.max_batch_size)  # build-trt's default strategy
    assert _shapes(params["trt_profile_min_shapes"]) == profile.min
    assert _shapes(params["trt_profile_opt_shapes"]) == profile.opt
    assert _shapes(params["trt_profile_max_shapes"]) == profile.max
    assert profile.max[contract.INPUT_IDS.name] == (cfg.max_batch_size, contract.MAX_SEQ_LEN)
    # TensorRT 11 has no weak typing: ONNX Runtime's provider takes precision from the graph
    # (onnxruntime core/providers/tensorrt/nv_includes.h), so FP16 comes from an FP16 model.onnx.
    assert params["precision_mode"] == "FP32" and "trt_layer_norm_fp32_fallback" not in params
    # The warm-up request lies inside the profile, so warm-up builds the one engine.
    for item in cfg.model_warmup:
        for name, tensor in item.inputs.items():
            shape = (item.batch_size, *tensor.dims)
            assert all(lo <= s <= hi for lo, s, hi in zip(profile.min[name], shape, profile.max[name]))


def test_trt_engine_cache_is_on_a_volume():
    params = dict(
        model_config(ServingOptions(variant="onnxruntime-trt"))
        .optimization.execution_accelerators.gpu_execution_accelerator[0]
        .parameters
    )
    assert params["trt_engine_cache_enable"] == "1" and params["trt_engine_cache_path"] == ORT_TRT_ENGINE_CACHE
    assert not ORT_TRT_ENGINE_CACHE.startswith("/tmp")
    server = compose()["services"]["layoutlmv3-triton-server"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in server["volumes"]}
    assert mounts[ORT_TRT_ENGINE_CACHE] in compose()["volumes"]  # a named volume
    assert f"chown triton-server:triton-server /home/triton-server {ORT_TRT_ENGINE_CACHE}" in joined(
        DOCKER / "server.Dockerfile"
    )  # the server user can write into a fresh volume


# --- 5. docs match the code -----------------------------------------------------------------


def test_docs_give_the_profile_batch_and_both_admin_headers():
    text = " ".join(DOCS.read_text().split())
    deployed = model_config(ServingOptions(variant="tensorrt-plan")).max_batch_size
    assert f"batch 1..{deployed} (`DEFAULT_MAX_WINDOWS`" in text
    assert "1..`DEFAULT_MAX_BATCH_SIZE`" not in text
    for path in (DOCS, REPO / "SECURITY.md", REPO / ".env.example", DOCKER / "layoutlmv3-tritonserver.sh"):
        assert "triton-grpc-protocol-admin-key" in path.read_text(), path.name


# --- 6. tested versions and a lean server extra ---------------------------------------------


def test_constraints_match_this_environment():
    """The images' pins are the versions installed here, where the tests run.  Strict for the
    packages pyproject.toml names (transformers, onnxruntime, ...); the file itself lists their
    whole closure, regenerated with the command below."""
    from importlib import metadata

    pins = constraints.read(CONSTRAINTS)
    regenerate = "python -m layoutlmv3_triton.images.constraints generate > docker/constraints.txt"
    assert CONSTRAINTS.read_text().startswith(constraints.HEADER)
    for line in constraints.project_requirements(REPO / "pyproject.toml"):
        name = constraints.requirement_name(line)
        if name in constraints.unpinned_names():
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        assert pins.get(name) == installed, f"{name}: tested {installed}, images pin {pins.get(name)}; {regenerate}"


def test_the_images_pin_what_the_local_install_pins():
    """One pinned set: the images' constraints are a subset of requirements/lock.txt, which
    `make setup` installs under, so neither drifts when PyPI moves."""
    lock = constraints.read(LOCK)
    for name, version in constraints.read(CONSTRAINTS).items():
        assert lock.get(name) == version, f"{name}: images pin {version}, {LOCK.name} pins {lock.get(name)}; make lock"


def test_make_setup_installs_from_the_lock():
    makefile = (REPO / "Makefile").read_text()
    assert "LOCK := requirements/lock.txt" in makefile
    installs = [line for line in makefile.splitlines() if "$(BIN)/pip install" in line]
    assert installs and all("-c $(LOCK)" in line or "$(TORCH)" in line for line in installs), installs


def test_this_environment_is_the_locked_one():
    """Passes by construction after `make setup`; fails where a venv was installed some other way."""
    from importlib import metadata

    drift = []
    for name, version in constraints.read(LOCK).items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # e.g. a platform-marked package
        if installed != version:
            drift.append(f"{name} {installed} (lock {version})")
    assert not drift, f"installed != {LOCK.name}: {drift}; reinstall with make setup"


def test_constraints_satisfy_pyproject():
    from packaging.requirements import Requirement

    pins = constraints.read(CONSTRAINTS)
    for line in constraints.project_requirements(REPO / "pyproject.toml"):
        requirement = Requirement(line)
        name = constraints.canonical(requirement.name)
        if name in constraints.unpinned_names():
            continue
        assert name in pins, f"{name} (from pyproject.toml) has no tested version in {CONSTRAINTS.name}"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} vs {requirement}"


def test_server_extra_is_lean():
    pulled = constraints.closure(constraints.project_requirements(REPO / "pyproject.toml", ("serving",)))
    for heavy in ("torch", "onnxruntime", "nvidia-pytriton", "tritonclient", "onnx", "lightning"):
        assert heavy not in pulled, f"the serving extra pulls {heavy}"
    assert {"tesserocr", "transformers", "tokenizers", "pypdfium2"} <= set(pulled)


def test_images_install_under_the_constraints():
    for name, extra in (("server", '".[serving]"'), ("workflow", '".[train,notebook]"'), ("client", '".[client]"')):
        text = joined(DOCKER / f"{name}.Dockerfile")
        install = next(line for line in text.splitlines() if extra in line)
        assert "layoutlmv3_triton.images.constraints for-image docker/constraints.txt" in install, name
        assert re.search(r"PIP_CONSTRAINT=[^&]*/tmp/constraints\.txt", install.replace('"', "")), name
        assert "COPY docker/constraints.txt docker/constraints.txt" in text


# Tags of tesseract-ocr/tesseract (5.5.3 = db0ec62f8, 2026-07-24, the newest; there is no 5.5.4 tag,
# though the tesserocr wheel the tests run with bundles a Tesseract that calls itself 5.5.4).
TESSERACT_TAGS = ("5.3.4", "5.4.0", "5.4.1", "5.5.0", "5.5.1", "5.5.2", "5.5.3")


def test_tesseract_versions_are_upstream_tags_next_to_the_tested_one():
    tesserocr = pytest.importorskip("tesserocr")
    text = (DOCKER / "server.Dockerfile").read_text()
    assert re.search(r"ARG TESSEROCR_VERSION=(\S+)", text).group(1) == constraints.read(CONSTRAINTS)["tesserocr"]
    built = re.search(r"ARG TESSERACT_VERSION=(\S+)", text).group(1)
    assert built in TESSERACT_TAGS and re.search(r"ARG TESSERACT_OPENCL_VERSION=(\S+)", text).group(1) in TESSERACT_TAGS
    tested = re.match(r"tesseract (\S+)", tesserocr.tesseract_version()).group(1)
    version = lambda v: tuple(map(int, v.split(".")))  # noqa: E731
    assert version(built)[:2] == version(tested)[:2] and version(built) <= version(tested), (built, tested)


def test_for_image_leaves_the_base_images_packages_alone(tmp_path):
    pins = {"torch": "2.13.0", "transformers": "5.24.0", "numpy": "1.26.4"}
    assert constraints.for_image(pins, {"torch", "numpy", "pip"}) == {"transformers": "5.24.0"}
    source = tmp_path / "c.txt"
    source.write_text(constraints.render({"transformers": "5.24.0", "surely-not-installed-pkg": "1.0"}))
    assert constraints.main(["for-image", str(source), "-o", str(tmp_path / "out.txt")]) == 0
    assert constraints.read(tmp_path / "out.txt") == {"surely-not-installed-pkg": "1.0"}


def test_server_image_check_loads_a_tiny_processor(tmp_path):
    pytest.importorskip("tesserocr")
    from layoutlmv3_triton.images.checks import check_server

    notes = check_server(tmp_path)
    assert "tiny processor encoded the page" in notes[1]
    assert "PP-OCR's box extraction, line crops and CTC decoding ran" in notes[2]
    assert "python3 -m layoutlmv3_triton.images.checks server --no-torch" in joined(DOCKER / "server.Dockerfile")


# --- 7. python backend shared memory --------------------------------------------------------


def test_python_backend_shm_holds_a_preprocess_response():
    options = ServingOptions()
    max_windows = model_config(options).max_batch_size  # sequences one request may bring
    response = python_backend.preprocess_response_bytes(max_windows)
    assert response > 38 * python_backend.MIB  # 64 x (3x224x224 fp32 + 512-token ints)
    assert python_backend.SHM_DEFAULT_BYTE_SIZE >= response and python_backend.SHM_GROWTH_BYTE_SIZE >= response
    launcher = (DOCKER / "layoutlmv3-tritonserver.sh").read_text()
    assert f"TRITON_PYTHON_SHM_DEFAULT_BYTES:-{python_backend.SHM_DEFAULT_BYTE_SIZE}" in launcher
    assert f"TRITON_PYTHON_SHM_GROWTH_BYTES:-{python_backend.SHM_GROWTH_BYTE_SIZE}" in launcher
    assert '--backend-config="python,shm-default-byte-size=${shm_default}"' in launcher
    assert '--backend-config="python,shm-growth-byte-size=${shm_growth}"' in launcher
    server = compose()["services"]["layoutlmv3-triton-server"]
    env = server["environment"]
    assert int(env["TRITON_PYTHON_SHM_DEFAULT_BYTES"]) == python_backend.SHM_DEFAULT_BYTE_SIZE
    assert int(env["TRITON_PYTHON_SHM_GROWTH_BYTES"]) == python_backend.SHM_GROWTH_BYTE_SIZE
    # /dev/shm holds every python-backend instance at its largest: a full batch of responses.
    batch = preprocess_config(options).max_batch_size
    worst = (
        options.preprocess_instances * max(python_backend.SHM_DEFAULT_BYTE_SIZE, batch * response)
        + options.postprocess_instances * python_backend.SHM_DEFAULT_BYTE_SIZE
    )
    assert int(server["shm_size"].removesuffix("gb")) << 30 >= worst
