"""Build the TensorRT engine (``model.plan``) of ``layoutlmv3_model`` from its ONNX export.

Runs where TensorRT is: the workflow image (nvcr.io/nvidia/pytorch ships the TensorRT
Python API) or, without it, any image with ``trtexec``.  A plan only loads on the GPU
model and TensorRT version that built it, so build it with the same release pin as the
server image (``.env``: TRITON_RELEASE), on the serving GPU.

1. The int64 inputs become int32 graph inputs followed by Cast nodes: TensorRT < 10 has
   no INT64 I/O, and the ``tensorrt-plan`` model config declares INT32 for every release.
2. Optimisation profiles over (batch, seq) come from the contract: the preprocess step
   pads every page to one of ``SEQ_BUCKETS``, so sequences are 64..512 tokens.
3. ``--fp16`` keeps LayerNorm (and, on TensorRT >= 11, softmax) in FP32: FP16 LayerNorm
   overflows and the logits drift.  TensorRT 11 removed weak typing (``BuilderFlag.FP16``,
   ``OBEY_PRECISION_CONSTRAINTS``, per-layer precision, ``trtexec --fp16``: NVIDIA's
   "Migrating from TensorRT 10.x to 11.x" guide; TensorRT 11.1's ``python/src/infer/pyCore.cpp``
   binds none of them).  From 11 on the engine is built from an FP16 ONNX graph
   (:mod:`.fp16`); below 11, from builder flags with the LayerNorm layers pinned to FP32.
4. The engine runs next to ONNX Runtime (CPU, FP32) on the same inputs; an engine whose
   logits drift past the tolerance is refused (:class:`EngineParityError`), never written.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from layoutlmv3_triton import contract
from layoutlmv3_triton.errors import LayoutLMv3TritonError, ParityError
from layoutlmv3_triton.export.fp16 import convert_to_fp16
from layoutlmv3_triton.export.parity import TOLERANCES, ParityReport, compare

log = logging.getLogger(__name__)

CAST_SUFFIX = "__int64"  # the Cast output that replaces an int32 graph input downstream
DEFAULT_WORKSPACE_GIB = 4
TRTEXEC_CANDIDATES = ("trtexec", "/usr/src/tensorrt/bin/trtexec")
_LAYERNORM_NAME = re.compile(r"layer_?norm", re.IGNORECASE)
STRONGLY_TYPED_SINCE = 11  # the TensorRT major that builds only strongly typed networks
_TRTEXEC_VERSION = re.compile(r"\[TensorRT v(\d+)\]")  # trtexec's banner: NV_TENSORRT_VERSION, 110100 = 11.1.0


class TensorRTBuildError(LayoutLMv3TritonError):
    """TensorRT is missing, or the ONNX model cannot be parsed or built."""


class EngineParityError(ParityError):
    """The TensorRT engine disagrees with ONNX Runtime beyond the tolerance."""


# --- INT32 inputs ------------------------------------------------------------------------


def cast_inputs_to_int32(model, names: Iterable[str] | None = None):
    """A copy of ``model`` whose int64 inputs (or only ``names``) are int32 graph inputs.

    Each such input keeps its name and gets a ``Cast(to=INT64)`` whose output feeds every
    former consumer, in subgraphs too, so the rest of the graph is unchanged.
    """
    import onnx
    from onnx import TensorProto, helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    wanted = set(names) if names is not None else None
    renamed: dict[str, str] = {}
    for inp in graph.input:
        tensor_type = inp.type.tensor_type
        if tensor_type.elem_type != TensorProto.INT64 or (wanted is not None and inp.name not in wanted):
            continue
        tensor_type.elem_type = TensorProto.INT32
        renamed[inp.name] = inp.name + CAST_SUFFIX
    if wanted is not None and wanted - set(renamed):
        raise TensorRTBuildError(f"not int64 inputs of the graph: {sorted(wanted - set(renamed))}")
    _rename_uses(graph, renamed)
    casts = [
        helper.make_node("Cast", [old], [new], to=TensorProto.INT64, name=f"cast_{old}_to_int64")
        for old, new in renamed.items()
    ]
    for i, node in enumerate(casts):  # first in the node list keeps it topologically sorted
        graph.node.insert(i, node)
    for out in graph.output:  # an input passed straight through stays int64 downstream
        if out.name in renamed:
            raise TensorRTBuildError(f"graph input {out.name!r} is also a graph output")
    return model


def _rename_uses(graph, renamed: dict[str, str]) -> None:
    from onnx import AttributeProto

    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renamed:
                node.input[i] = renamed[name]
        for attr in node.attribute:  # If/Loop/Scan bodies may read outer-scope tensors
            if attr.type == AttributeProto.GRAPH:
                _rename_uses(attr.g, renamed)
            elif attr.type == AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    _rename_uses(sub, renamed)


def write_int32_onnx(src: str | Path, dst: str | Path) -> Path:
    """Write the INT32-input model as one self-contained ONNX file."""
    import onnx

    model = cast_inputs_to_int32(onnx.load(str(src)))
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))
    return dst


def _lower_ir_version(model) -> None:
    """IR 10 only adds 4-bit types and function overloads; TensorRT's parser may stop at IR 9."""
    from onnx import TensorProto

    four_bit = (getattr(TensorProto, "INT4", -1), getattr(TensorProto, "UINT4", -1))
    if not model.functions and not any(t.data_type in four_bit for t in model.graph.initializer):
        model.ir_version = min(model.ir_version, 9)


def infer_vocab_size(model) -> int | None:
    """Rows of the word-embedding table (the Gather that reads ``input_ids``), if found."""
    inits = {t.name: t for t in model.graph.initializer}
    ids = {contract.INPUT_IDS.name, contract.INPUT_IDS.name + CAST_SUFFIX}
    for node in model.graph.node:
        if node.op_type == "Gather" and len(node.input) == 2 and node.input[1] in ids and node.input[0] in inits:
            return int(inits[node.input[0]].dims[0])
    return None


# --- optimisation profiles ---------------------------------------------------------------

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Profile:
    """min/opt/max shapes of every model input, batch dimension included."""

    min: dict[str, Shape]
    opt: dict[str, Shape]
    max: dict[str, Shape]

    def sample_points(self) -> list[tuple[int, int]]:
        """(batch, seq) points at which parity is checked: the corners and the optimum."""
        ids = contract.INPUT_IDS.name
        points = [(s[ids][0], s[ids][1]) for s in (self.min, self.opt, self.max)]
        return list(dict.fromkeys(points))


def input_shapes(batch: int, seq: int) -> dict[str, Shape]:
    """Each model input's shape at (batch, seq): ``-1`` in the contract is the sequence."""
    return {t.name: (batch, *(seq if d == -1 else d for d in t.dims)) for t in contract.MODEL_INPUTS}


def optimization_profiles(
    max_batch: int = contract.DEFAULT_MAX_WINDOWS,
    strategy: str = "single",
    opt_batch: int | None = None,
    opt_seq: int | None = None,
    buckets: Sequence[int] = contract.SEQ_BUCKETS,
) -> list[Profile]:
    """``single``: one profile over every bucket; ``per-bucket``: one per sequence bucket
    (fastest kernels per length, longer build, more engine memory)."""
    if max_batch < 1:
        raise ValueError("max_batch must be at least 1")
    if max(buckets) > contract.MAX_SEQ_LEN:
        raise ValueError(f"sequence buckets exceed MAX_SEQ_LEN={contract.MAX_SEQ_LEN}")
    opt_b = opt_batch if opt_batch is not None else max(1, max_batch // 2)
    if not 1 <= opt_b <= max_batch:
        raise ValueError(f"opt batch {opt_b} outside 1..{max_batch}")
    if strategy == "single":
        lo, hi = min(buckets), max(buckets)
        opt_s = opt_seq if opt_seq is not None else sorted(buckets)[len(buckets) // 2]
        if not lo <= opt_s <= hi:
            raise ValueError(f"opt seq {opt_s} outside {lo}..{hi}")
        return [Profile(input_shapes(1, lo), input_shapes(opt_b, opt_s), input_shapes(max_batch, hi))]
    if strategy == "per-bucket":
        return [
            Profile(input_shapes(1, b), input_shapes(opt_b, b), input_shapes(max_batch, b)) for b in sorted(buckets)
        ]
    raise ValueError(f"unknown profile strategy {strategy!r}; choose single or per-bucket")


# The onnxruntime backend's TensorRT accelerator (variant onnxruntime-trt) caches its engines
# here: a named volume in docker-compose.yml, so that a restart reuses them.
ORT_TRT_ENGINE_CACHE = "/var/cache/layoutlmv3/trt"


def onnxruntime_trt_parameters(max_batch: int, workspace_gib: float = 2) -> dict[str, str]:
    """The TensorRT accelerator's parameters for the onnxruntime backend, with the profile
    ``build-trt`` builds for a model step of ``max_batch`` sequences.  Without explicit
    profiles, onnxruntime builds a new engine for every unseen input shape inside the request
    that brings it (minutes for a base model).

    The engine computes in the precision of ``model.onnx``.  ``precision_mode: FP16`` (the
    backend's ``trt_fp16_enable``) and ``trt_layer_norm_fp32_fallback`` are builder flags and
    per-layer precisions, which TensorRT 11 removed: ONNX Runtime's TensorRT provider takes
    precision from the graph there (onnxruntime ``core/providers/tensorrt/nv_includes.h``:
    "legacy FP16/BF16/INT8 builder modes are disabled").  So the config asks for FP32, which
    every release honours, and an FP16 engine comes from an FP16 ``model.onnx``
    (``build-trt --fp16-onnx``)."""
    (profile,) = optimization_profiles(max_batch, "single")
    return {
        "precision_mode": "FP32",
        "max_workspace_size_bytes": str(int(workspace_gib * (1 << 30))),
        "trt_engine_cache_enable": "1",
        "trt_engine_cache_path": ORT_TRT_ENGINE_CACHE,
        # the trtexec syntax, which onnxruntime's TensorRT provider shares: "input_ids:1x64,bbox:1x64x4,..."
        "trt_profile_min_shapes": _shape_spec(profile.min),
        "trt_profile_opt_shapes": _shape_spec(profile.opt),
        "trt_profile_max_shapes": _shape_spec(profile.max),
    }


def profile_for(profiles: Sequence[Profile], batch: int, seq: int) -> int:
    """Index of the first profile that admits (batch, seq), as the TensorRT backend picks."""
    ids = contract.INPUT_IDS.name
    for i, p in enumerate(profiles):
        if p.min[ids][0] <= batch <= p.max[ids][0] and p.min[ids][1] <= seq <= p.max[ids][1]:
            return i
    raise ValueError(f"no optimisation profile admits batch {batch}, seq {seq}")


# --- precision ---------------------------------------------------------------------------


def fp16_method(trt_major: int) -> str:
    """How this TensorRT makes an FP16 engine: ``"graph"`` (strongly typed, from an FP16 ONNX
    graph; TensorRT >= 11) or ``"flags"`` (``BuilderFlag.FP16`` with the LayerNorm layers pinned
    to FP32; TensorRT < 11, where the graph stays FP32)."""
    return "graph" if trt_major >= STRONGLY_TYPED_SINCE else "flags"


def fp32_layer_indices(layers: Sequence[tuple[str, str]]) -> list[int]:
    """Layers to pin to FP32 in an FP16 engine, from (layer name, layer type name) pairs:
    normalization layers (ONNX LayerNormalization, opset >= 17) and, for graphs where the
    exporter decomposed LayerNorm, every layer whose name says layer norm."""
    return [
        i for i, (name, kind) in enumerate(layers) if kind.upper() == "NORMALIZATION" or _LAYERNORM_NAME.search(name)
    ]


def layernorm_node_names(model) -> list[str]:
    """ONNX LayerNormalization node names: TensorRT names the parsed layers after them."""
    return [n.name for n in model.graph.node if n.op_type == "LayerNormalization" and n.name]


# --- parity ------------------------------------------------------------------------------


def engine_report(precision: str, atol: float | None = None, rtol: float | None = None) -> ParityReport:
    """An empty parity report for an engine of ``precision`` against ONNX Runtime."""
    default_atol, default_rtol = TOLERANCES[precision]
    return ParityReport(
        f"{precision} engine vs ONNX Runtime",
        default_atol if atol is None else atol,
        default_rtol if rtol is None else rtol,
        error=EngineParityError,
    )


def as_int32(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: (v.astype(np.int32) if v.dtype == np.int64 else v) for k, v in inputs.items()}


def onnxruntime_reference(onnx_path: str | Path):
    """A callable inputs -> logits on ONNX Runtime's CPU provider (FP32 reference)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return lambda inputs: session.run([contract.LOGITS.name], inputs)[0]


def check_parity(
    run_engine,
    reference,
    profiles: Sequence[Profile],
    vocab_size: int,
    precision: str,
    atol: float | None = None,
    rtol: float | None = None,
) -> ParityReport:
    """Run both on the same inputs at every profile's sample points; raise past tolerance."""
    report = engine_report(precision, atol, rtol)
    for index, profile in enumerate(profiles):
        compare(
            report,
            reference,
            lambda inputs, i=index: run_engine(as_int32(inputs), i),
            profile.sample_points(),
            vocab_size,
        )
    return report.raise_if_drifting("refusing to write the engine")


# --- TensorRT Python API -----------------------------------------------------------------


def tensorrt_available() -> bool:
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return False
    return True


def find_trtexec() -> str | None:
    for candidate in TRTEXEC_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def tensorrt_major() -> int:
    import tensorrt as trt

    return int(trt.__version__.split(".")[0])


def build_with_python_api(
    onnx_path: Path, profiles: Sequence[Profile], fp16_flags: bool, workspace_gib: float = DEFAULT_WORKSPACE_GIB
) -> bytes:
    """``fp16_flags``: TensorRT < 11's FP16 (builder flag, LayerNorm pinned to FP32).  On 11 an
    FP16 engine needs no flag: ``onnx_path`` is then the FP16 graph (:func:`fp16_method`)."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if tensorrt_major() < 10:  # explicit batch is the only mode from 10 on (and the flag is gone in 11)
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise TensorRTBuildError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    config.clear_flag(trt.BuilderFlag.TF32)  # TF32 matmuls alone drift past the FP32 tolerance (still in 11)
    if fp16_flags:
        if fp16_method(tensorrt_major()) != "flags":
            raise TensorRTBuildError(f"TensorRT {trt.__version__} has no FP16 builder flag: build from the FP16 graph")
        config.set_flag(trt.BuilderFlag.FP16)
        config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
        log.info("FP16 engine; %d LayerNorm layer(s) kept in FP32", _pin_layernorms_fp32(network, trt))
    for profile in profiles:
        p = builder.create_optimization_profile()
        for name in profile.min:
            p.set_shape(name, profile.min[name], profile.opt[name], profile.max[name])
        config.add_optimization_profile(p)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise TensorRTBuildError("TensorRT failed to build the engine (see the log above)")
    return bytes(plan)


def _pin_layernorms_fp32(network, trt) -> int:
    """TensorRT < 11: LayerNorm layers compute and output FP32 inside an FP16 engine."""
    layers = [network.get_layer(i) for i in range(network.num_layers)]
    floats = (trt.float32, trt.float16)
    pinned = [
        i
        for i in fp32_layer_indices([(layer.name, layer.type.name) for layer in layers])
        # a helper layer of the same ONNX node may compute shapes or axes: leave those be
        if all(layers[i].get_output(j).dtype in floats for j in range(layers[i].num_outputs))
    ]
    for i in pinned:
        layer = layers[i]
        layer.precision = trt.float32
        for j in range(layer.num_outputs):
            layer.set_output_type(j, trt.float32)
        if layer.type == trt.LayerType.NORMALIZATION:
            # get_layer() hands out the ILayer base class, which has no compute_precision:
            # cast it to its own class first, as Polygraphy does (backend/trt/util.py).
            layer.__class__ = trt.INormalizationLayer
            layer.compute_precision = trt.float32
    return len(pinned)


class TensorRTRunner:
    """Runs a serialized engine on the GPU; device memory through torch (workflow image)."""

    def __init__(self, plan: bytes):
        import tensorrt as trt
        import torch

        if not torch.cuda.is_available():
            raise TensorRTBuildError("no CUDA device: the engine cannot be checked")
        self.trt, self.torch = trt, torch
        self.engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(plan)
        if self.engine is None:
            raise TensorRTBuildError("TensorRT cannot deserialize the engine it just built")
        self.contexts: dict[int, object] = {}

    def __call__(self, inputs: dict[str, np.ndarray], profile_index: int = 0) -> np.ndarray:
        trt, torch = self.trt, self.torch
        stream = torch.cuda.current_stream()
        context = self.contexts.get(profile_index)
        if context is None:  # one context per profile: a context keeps the profile it was given
            context = self.engine.create_execution_context()
            context.set_optimization_profile_async(profile_index, stream.cuda_stream)
            self.contexts[profile_index] = context
        keep = []
        for name, array in inputs.items():
            tensor = torch.from_numpy(np.ascontiguousarray(array)).cuda()
            keep.append(tensor)
            context.set_input_shape(name, tuple(tensor.shape))
            context.set_tensor_address(name, tensor.data_ptr())
        out_name = contract.LOGITS.name
        dtype = torch.from_numpy(np.zeros(0, dtype=trt.nptype(self.engine.get_tensor_dtype(out_name)))).dtype
        out = torch.empty(tuple(context.get_tensor_shape(out_name)), dtype=dtype, device="cuda")
        context.set_tensor_address(out_name, out.data_ptr())
        if not context.execute_async_v3(stream.cuda_stream):
            raise TensorRTBuildError("TensorRT execution failed")
        stream.synchronize()
        return out.float().cpu().numpy()


# --- trtexec fallback --------------------------------------------------------------------


def _shape_spec(shapes: dict[str, Shape]) -> str:
    return ",".join(f"{name}:{'x'.join(map(str, shape))}" for name, shape in shapes.items())


def trtexec_major(trtexec: str) -> int:
    """The TensorRT major of ``trtexec``, from the version in its banner ("[TensorRT v110100]")."""
    done = subprocess.run([trtexec, "--help"], capture_output=True, text=True)
    found = _TRTEXEC_VERSION.search(done.stdout + done.stderr)
    if not found:
        raise TensorRTBuildError(f"{trtexec} --help names no TensorRT version")
    return int(found.group(1)) // 10000


def trtexec_build_command(
    trtexec: str,
    onnx_path: Path,
    plan_path: Path,
    profiles: Sequence[Profile],
    fp16_flags: bool,
    fp32_layers: Sequence[str] = (),
    workspace_gib: float = DEFAULT_WORKSPACE_GIB,
) -> list[str]:
    """trtexec arguments equivalent to :func:`build_with_python_api` (one triplet per profile).
    ``fp16_flags``: TensorRT < 11's ``--fp16`` with FP32 LayerNorm layers; trtexec 11 has no
    precision flags (strongly typed: an FP16 engine comes from an FP16 ``onnx_path``)."""
    cmd = [
        trtexec,
        f"--onnx={onnx_path}",
        f"--saveEngine={plan_path}",
        "--noTF32",
        "--skipInference",
        f"--memPoolSize=workspace:{int(workspace_gib * 1024)}",
    ]  # MiB
    for p in profiles:
        cmd += [
            f"--minShapes={_shape_spec(p.min)}",
            f"--optShapes={_shape_spec(p.opt)}",
            f"--maxShapes={_shape_spec(p.max)}",
        ]
    if fp16_flags:
        cmd.append("--fp16")
        if fp32_layers:
            spec = ",".join(f"{name}:fp32" for name in fp32_layers)
            cmd += ["--precisionConstraints=obey", f"--layerPrecisions={spec}", f"--layerOutputTypes={spec}"]
    return cmd


def parse_trtexec_output(text: str, name: str = contract.LOGITS.name) -> np.ndarray:
    """The tensor ``name`` from trtexec ``--exportOutput`` JSON (``"dimensions": "2x64x7"``)."""
    # trtexec prints non-finite floats as C++ streams do (nan, inf): make them JSON first
    text = re.sub(r"(?<![\w\"])(-?)(nan|inf)(?![\w\"])", lambda m: '"' + m.group(1) + m.group(2) + '"', text)
    for item in json.loads(text):
        if item["name"] == name:
            shape = tuple(int(d) for d in str(item["dimensions"]).split("x") if d)
            values = np.array([float(v) for v in item["values"]], dtype=np.float32)
            return values.reshape(shape)
    raise TensorRTBuildError(f"trtexec output has no tensor {name!r}")


class TrtexecRunner:
    """Runs the engine through ``trtexec --loadInputs/--exportOutput`` (no Python API)."""

    def __init__(self, trtexec: str, plan_path: Path, workdir: Path):
        self.trtexec, self.plan_path, self.workdir = trtexec, plan_path, workdir

    def __call__(self, inputs: dict[str, np.ndarray], profile_index: int = 0) -> np.ndarray:
        files = []
        for name, array in inputs.items():
            path = self.workdir / f"{name}.bin"
            np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tofile(path)
            files.append(f"{name}:{path}")
        out = self.workdir / "output.json"
        shapes = _shape_spec({k: tuple(v.shape) for k, v in inputs.items()})
        cmd = [
            self.trtexec,
            f"--loadEngine={self.plan_path}",
            f"--shapes={shapes}",
            f"--profile={profile_index}",
            f"--loadInputs={','.join(files)}",
            f"--exportOutput={out}",
            "--iterations=1",
            "--warmUp=0",
            "--duration=0",
            "--avgRuns=1",
        ]
        _run(cmd)
        return parse_trtexec_output(out.read_text())


def _run(cmd: list[str]) -> None:
    log.info("running %s", " ".join(cmd))
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise TensorRTBuildError(
            f"{Path(cmd[0]).name} failed ({done.returncode}):\n{done.stdout[-3000:]}" f"{done.stderr[-3000:]}"
        )


# --- the whole build ---------------------------------------------------------------------


@dataclass
class BuildResult:
    plan_path: Path
    tool: str
    profiles: list[Profile]
    parity: ParityReport
    fp16_method: str | None = None  # "graph" (TensorRT >= 11) or "flags"; None for FP32


def build_engine(
    onnx_path: str | Path,
    plan_path: str | Path,
    *,
    fp16: bool = False,
    max_batch: int = contract.DEFAULT_MAX_WINDOWS,
    strategy: str = "single",
    opt_batch: int | None = None,
    opt_seq: int | None = None,
    workspace_gib: float = DEFAULT_WORKSPACE_GIB,
    atol: float | None = None,
    rtol: float | None = None,
    vocab_size: int | None = None,
    tool: str = "auto",
) -> BuildResult:
    """Cast, build, check against ONNX Runtime, and only then write ``plan_path``."""
    import onnx

    onnx_path, plan_path = Path(onnx_path), Path(plan_path)
    if not onnx_path.is_file():
        raise TensorRTBuildError(f"no ONNX model at {onnx_path}: run `layoutlmv3-triton build-repo` first")
    tool = _pick_tool(tool)
    profiles = optimization_profiles(max_batch, strategy, opt_batch, opt_seq)
    original = onnx.load(str(onnx_path))
    vocab_size = vocab_size or infer_vocab_size(original)
    if not vocab_size:
        raise TensorRTBuildError("cannot find the word-embedding table in the ONNX graph: pass --vocab-size")
    int32_model = cast_inputs_to_int32(original)
    _lower_ir_version(int32_model)
    precision = "fp16" if fp16 else "fp32"
    trtexec = find_trtexec() if tool == "trtexec" else None
    method = fp16_method(tensorrt_major() if tool == "python" else trtexec_major(trtexec)) if fp16 else None
    if method == "graph":  # strongly typed: the graph carries the FP16 (LayerNorm, softmax stay FP32)
        int32_model = convert_to_fp16(int32_model)
    with tempfile.TemporaryDirectory(prefix="trt-build-") as tmp:
        tmp = Path(tmp)
        int32_path = tmp / "model.int32.onnx"
        onnx.save(int32_model, str(int32_path))
        staged = tmp / "model.plan"
        if tool == "python":
            staged.write_bytes(build_with_python_api(int32_path, profiles, method == "flags", workspace_gib))
            runner = TensorRTRunner(staged.read_bytes())
        else:
            _run(
                trtexec_build_command(
                    trtexec,
                    int32_path,
                    staged,
                    profiles,
                    method == "flags",
                    layernorm_node_names(int32_model),
                    workspace_gib,
                )
            )
            runner = TrtexecRunner(trtexec, staged, tmp)
        report = check_parity(runner, onnxruntime_reference(onnx_path), profiles, vocab_size, precision, atol, rtol)
        log.info("%s", report)
        plan_path.parent.mkdir(parents=True, exist_ok=True)
        partial = plan_path.with_name(plan_path.name + ".partial")
        shutil.copyfile(staged, partial)
        os.replace(partial, plan_path)  # a reader never sees half an engine
    return BuildResult(plan_path, tool, profiles, report, method)


def _pick_tool(tool: str) -> str:
    if tool not in ("auto", "python", "trtexec"):
        raise ValueError(f"unknown tool {tool!r}")
    if tool in ("auto", "python") and tensorrt_available():
        return "python"
    if tool in ("auto", "trtexec") and find_trtexec():
        return "trtexec"
    raise TensorRTBuildError(
        "TensorRT is not available here: run this in the workflow image "
        "(docker compose run --rm layoutlmv3-pytorch layoutlmv3-triton build-trt ...), "
        "which has the TensorRT Python API and trtexec"
    )
