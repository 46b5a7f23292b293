"""TensorRT engine build: the GPU-free logic here, the engine itself only where TensorRT is.

The trtexec path is driven end to end by a fake ``trtexec`` that "builds" by copying the
INT32 ONNX and "runs" it in ONNX Runtime, so casting, profiles, the parity check and the
refusal to write a drifting engine are all exercised without a GPU.  The fake reports the
TensorRT version it is told to: below 11 an FP16 build uses the builder flags, from 11 on
(strongly typed only) the FP16 graph of export/fp16.py, which the fake then runs on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

from layoutlmv3_triton import contract  # noqa: E402
from layoutlmv3_triton.errors import ParityError  # noqa: E402
from layoutlmv3_triton.export import fp16 as half  # noqa: E402
from layoutlmv3_triton.export import tensorrt as tb  # noqa: E402

VOCAB = 50


# --- profiles ------------------------------------------------------------------------------


def test_single_profile_spans_every_bucket():
    (p,) = tb.optimization_profiles()
    lo, hi = min(contract.SEQ_BUCKETS), max(contract.SEQ_BUCKETS)
    assert p.min["input_ids"] == (1, lo)
    assert p.max["input_ids"] == (contract.DEFAULT_MAX_WINDOWS, hi)
    assert hi == contract.MAX_SEQ_LEN
    assert p.max["bbox"] == (contract.DEFAULT_MAX_WINDOWS, hi, 4)
    assert p.opt["pixel_values"][1:] == (3, contract.IMAGE_SIZE, contract.IMAGE_SIZE)
    assert set(p.min) == {t.name for t in contract.MODEL_INPUTS}
    for shapes in (p.min, p.opt, p.max):  # every input agrees on (batch, seq)
        b, s = shapes["input_ids"]
        assert shapes["attention_mask"] == (b, s) and shapes["bbox"][:2] == (b, s)
        assert shapes["pixel_values"][0] == b
    assert p.min["input_ids"] <= p.opt["input_ids"] <= p.max["input_ids"]
    assert p.sample_points() == [(1, lo), p.opt["input_ids"], (contract.DEFAULT_MAX_WINDOWS, hi)]


def test_per_bucket_profiles_fix_the_sequence():
    profiles = tb.optimization_profiles(max_batch=16, strategy="per-bucket", opt_batch=8)
    assert [p.opt["input_ids"][1] for p in profiles] == sorted(contract.SEQ_BUCKETS)
    for p, bucket in zip(profiles, sorted(contract.SEQ_BUCKETS)):
        assert p.min["input_ids"] == (1, bucket) and p.max["input_ids"] == (16, bucket)
        assert p.opt["input_ids"] == (8, bucket)
    assert tb.profile_for(profiles, 3, 256) == sorted(contract.SEQ_BUCKETS).index(256)
    with pytest.raises(ValueError):
        tb.profile_for(profiles, 17, 256)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_batch": 0},
        {"strategy": "both"},
        {"opt_batch": contract.DEFAULT_MAX_WINDOWS + 1},
        {"opt_seq": 1000},
        {"buckets": (64, 1024)},
    ],
)
def test_bad_profile_requests_fail(kwargs):
    with pytest.raises(ValueError):
        tb.optimization_profiles(**kwargs)


# --- INT32 casting -------------------------------------------------------------------------


def _toy_model() -> onnx.ModelProto:
    """int64 inputs used the ways LayoutLMv3 uses them: embedding lookup, mask arithmetic,
    Shape, and a read from inside an If subgraph."""
    b, s = "batch", "seq"
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, [b, s]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [b, s]),
        helper.make_tensor_value_info("bbox", TensorProto.INT64, [b, s, 4]),
        helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, [b, 3, 2, 2]),
    ]
    rng = np.random.default_rng(0)
    table = helper.make_tensor("embed", TensorProto.FLOAT, [VOCAB, 3], rng.standard_normal(VOCAB * 3).tolist())
    axis = helper.make_tensor("axis", TensorProto.INT64, [1], [-1])
    then_graph = helper.make_graph(
        [helper.make_node("ReduceSum", ["bbox", "axis"], ["then_out"], keepdims=0)],
        "then",
        [],
        [helper.make_tensor_value_info("then_out", TensorProto.INT64, None)],
    )
    else_graph = helper.make_graph(
        [helper.make_node("ReduceMax", ["bbox", "axis"], ["else_out"], keepdims=0)],
        "else",
        [],
        [helper.make_tensor_value_info("else_out", TensorProto.INT64, None)],
    )
    nodes = [
        helper.make_node("Gather", ["embed", "input_ids"], ["emb"], name="node_embedding"),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "axis"], ["mask_u"]),
        helper.make_node("Mul", ["emb", "mask_u"], ["masked"]),
        helper.make_node("Shape", ["bbox"], ["bbox_shape"]),
        helper.make_node("ReduceSum", ["bbox_shape"], ["shape_sum"], keepdims=1),
        helper.make_node("Greater", ["shape_sum", "axis"], ["cond_v"]),
        helper.make_node("Squeeze", ["cond_v"], ["cond"]),
        helper.make_node("If", ["cond"], ["box_stat"], then_branch=then_graph, else_branch=else_graph),
        helper.make_node("Cast", ["box_stat"], ["box_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["box_f", "axis"], ["box_u"]),
        helper.make_node("ReduceMean", ["pixel_values"], ["pix"], keepdims=0),
        helper.make_node("Add", ["masked", "box_u"], ["partial"]),
        helper.make_node(
            "LayerNormalization", ["partial", "ln_scale"], ["logits_pre"], axis=-1, name="node_layer_norm"
        ),
        helper.make_node("Mul", ["logits_pre", "pix_scale"], ["logits"]),
    ]
    ln_scale = helper.make_tensor("ln_scale", TensorProto.FLOAT, [3], [1.0, 2.0, 0.5])
    pix_scale = helper.make_tensor("pix_scale", TensorProto.FLOAT, [1], [3.0])
    graph = helper.make_graph(
        nodes,
        "toy",
        inputs,
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [b, s, 3])],
        initializer=[table, axis, ln_scale, pix_scale],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=True)
    return model


def _run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["logits"], feeds)[0]


def _feeds(batch: int, seq: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(batch * 100 + seq)
    return {
        "input_ids": rng.integers(0, VOCAB, (batch, seq), dtype=np.int64),
        "attention_mask": (rng.random((batch, seq)) > 0.3).astype(np.int64),
        "bbox": rng.integers(0, 1001, (batch, seq, 4), dtype=np.int64),
        "pixel_values": rng.standard_normal((batch, 3, 2, 2)).astype(np.float32),
    }


def test_cast_makes_int32_inputs_and_keeps_the_results():
    original = _toy_model()
    cast = tb.cast_inputs_to_int32(original)
    onnx.checker.check_model(cast, full_check=True)
    types = {i.name: i.type.tensor_type.elem_type for i in cast.graph.input}
    assert types == {
        "input_ids": TensorProto.INT32,
        "attention_mask": TensorProto.INT32,
        "bbox": TensorProto.INT32,
        "pixel_values": TensorProto.FLOAT,
    }
    assert [i.type.tensor_type.elem_type for i in original.graph.input][0] == TensorProto.INT64  # a copy
    for batch, seq in [(1, 5), (3, 17)]:
        feeds = _feeds(batch, seq)
        expected = _run(original, feeds)
        got = _run(cast, tb.as_int32(feeds))
        np.testing.assert_array_equal(got, expected)
    with pytest.raises(Exception, match="INVALID_ARGUMENT"):  # int64 is no longer accepted
        _run(cast, _feeds(1, 5))


def test_cast_only_named_inputs_and_rejects_unknown_names():
    cast = tb.cast_inputs_to_int32(_toy_model(), names=["bbox"])
    types = {i.name: i.type.tensor_type.elem_type for i in cast.graph.input}
    assert types["bbox"] == TensorProto.INT32 and types["input_ids"] == TensorProto.INT64
    with pytest.raises(tb.TensorRTBuildError):
        tb.cast_inputs_to_int32(_toy_model(), names=["pixel_values"])


def test_vocab_size_and_layernorm_names_come_from_the_graph():
    model = _toy_model()
    assert tb.infer_vocab_size(model) == VOCAB
    assert tb.infer_vocab_size(tb.cast_inputs_to_int32(model)) == VOCAB
    assert tb.layernorm_node_names(model) == ["node_layer_norm"]


def test_fp32_layers_are_the_layernorms():
    layers = [
        ("node_embedding", "GATHER"),
        ("node_layer_norm", "NORMALIZATION"),
        ("x", "NORMALIZATION"),
        ("encoder.LayerNorm/ReduceMean", "REDUCE"),
        ("node_MatMul_3", "MATRIX_MULTIPLY"),
    ]
    assert tb.fp32_layer_indices(layers) == [1, 2, 3]


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory) -> Path:
    """A real (tiny, random) LayoutLMv3ForTokenClassification through the project's exporter."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from layoutlmv3_triton.export import onnx as export
    from layoutlmv3_triton.training import scratch

    model = scratch.init_model("tiny", ["O", "B-KEY", "I-KEY"], VOCAB * 2)
    return export.export_onnx(model, tmp_path_factory.mktemp("tiny") / contract.ONNX_FILE)


def test_cast_layoutlmv3_export_matches_in_onnxruntime(tiny_onnx, tmp_path):
    from layoutlmv3_triton.export.parity import sample_inputs

    int32_path = tb.write_int32_onnx(tiny_onnx, tmp_path / "model.int32.onnx")
    original = ort.InferenceSession(str(tiny_onnx), providers=["CPUExecutionProvider"])
    cast = ort.InferenceSession(str(int32_path), providers=["CPUExecutionProvider"])
    assert {i.name: i.type for i in cast.get_inputs()} == {
        "input_ids": "tensor(int32)",
        "attention_mask": "tensor(int32)",
        "bbox": "tensor(int32)",
        "pixel_values": "tensor(float)",
    }
    assert tb.infer_vocab_size(onnx.load(str(tiny_onnx))) == VOCAB * 2
    for batch, seq in [(1, 64), (2, 128), (3, 200)]:
        feeds = sample_inputs(batch, seq, VOCAB * 2)
        expected = original.run(None, feeds)[0]
        got = cast.run(None, tb.as_int32(feeds))[0]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


# --- parity --------------------------------------------------------------------------------


def _report(precision="fp32"):
    return tb.engine_report(precision)


def test_parity_report_passes_within_tolerance_and_ignores_padding():
    ref = np.random.default_rng(0).standard_normal((2, 8, 7)).astype(np.float32)
    mask = np.ones((2, 8), dtype=np.int64)
    mask[1, 4:] = 0
    got = ref + 5e-4
    got[1, 4:] += 100.0  # padded positions may hold anything
    report = _report()
    report.add(2, 8, ref, got, mask)
    assert report.ok and report.raise_if_drifting() is report
    assert report.max_abs_diff[0] == pytest.approx(5e-4, rel=1e-2)
    assert report.label_agreement == [1.0]


@pytest.mark.parametrize("damage", ["drift", "nan"])
def test_parity_report_refuses_drift_and_nan(damage):
    ref = np.zeros((1, 4, 3), dtype=np.float32)
    got = ref.copy()
    got[0, 2, 1] = 0.5 if damage == "drift" else np.nan
    report = _report("fp16")
    report.add(1, 4, ref, got, np.ones((1, 4)))
    assert not report.ok
    with pytest.raises(tb.EngineParityError) as info:
        report.raise_if_drifting()
    assert isinstance(info.value, ParityError)
    assert "refusing" in str(info.value) and "1x4" in str(info.value)


def test_parity_report_rejects_shape_mismatch():
    with pytest.raises(tb.EngineParityError):
        _report().add(1, 4, np.zeros((1, 4, 3)), np.zeros((1, 4, 2)), np.ones((1, 4)))


def test_rtol_scales_with_the_logit():
    ref = np.full((1, 2, 2), 100.0, dtype=np.float32)
    report = _report("fp16")  # atol 5e-2 + rtol 5e-2 * 100 = 5.05
    report.add(1, 2, ref, ref + 5.0, np.ones((1, 2)))
    assert report.ok


# --- trtexec path, driven by a fake trtexec ------------------------------------------------

FAKE_TRTEXEC = '''\
#!{python}
"""Fake trtexec: "builds" by copying the ONNX, "runs" the copy in ONNX Runtime."""
import json, os, shutil, sys
import numpy as np
import onnxruntime as ort
if sys.argv[1:] == ["--help"]:  # trtexec's banner carries NV_TENSORRT_VERSION
    print("&&&& RUNNING TensorRT.trtexec [TensorRT v%s] [b1] # trtexec --help" % os.environ["FAKE_TRTEXEC_VERSION"])
    sys.exit(0)
args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if "=" in a)
with open(os.environ["FAKE_TRTEXEC_LOG"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
if "saveEngine" in args:
    shutil.copyfile(args["onnx"], args["saveEngine"])
    sys.exit(0)
shapes = {{k: [int(d) for d in v.split("x")] for k, v in (s.split(":") for s in args["shapes"].split(","))}}
feeds = {{}}
for spec in args["loadInputs"].split(","):
    name, path = spec.split(":", 1)
    dtype = np.float32 if name == "pixel_values" else np.int32
    feeds[name] = np.fromfile(path, dtype=dtype).reshape(shapes[name])
out = ort.InferenceSession(args["loadEngine"], providers=["CPUExecutionProvider"]).run(None, feeds)[0]
out = out + float(os.environ.get("FAKE_TRTEXEC_DRIFT", "0"))
values = ", ".join("nan" if np.isnan(v) else repr(float(v)) for v in out.ravel())
with open(args["exportOutput"], "w") as f:
    f.write('[\\n  {{ "name" : "logits"\\n  , "dimensions" : "%s"\\n  , "values" : [ %s ]\\n  }}\\n]\\n'
            % ("x".join(map(str, out.shape)), values))
'''


@pytest.fixture
def fake_trtexec(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "trtexec"
    exe.write_text(FAKE_TRTEXEC.format(python=sys.executable))
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "trtexec.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_TRTEXEC_LOG", str(log))
    monkeypatch.setenv("FAKE_TRTEXEC_VERSION", "101600")  # TensorRT 10.16; tests of 11 set their own
    monkeypatch.setattr(tb, "tensorrt_available", lambda: False)
    return log


def test_fp16_method_follows_the_tensorrt_major():
    """TensorRT 11 removed BuilderFlag.FP16 and per-layer precision: FP16 comes from the graph."""
    assert [tb.fp16_method(major) for major in (8, 9, 10, 11, 12)] == ["flags"] * 3 + ["graph"] * 2


@pytest.mark.parametrize("banner, major", [("[TensorRT v101600]", 10), ("[TensorRT v110100]", 11), ("", None)])
def test_trtexec_major_reads_the_banner(tmp_path, banner, major):
    exe = tmp_path / "trtexec"
    exe.write_text(f"#!/bin/sh\necho '&&&& RUNNING TensorRT.trtexec {banner} # trtexec --help'\n")
    exe.chmod(0o755)
    if major is None:
        with pytest.raises(tb.TensorRTBuildError, match="no TensorRT version"):
            tb.trtexec_major(str(exe))
    else:
        assert tb.trtexec_major(str(exe)) == major


def test_trtexec_11_gets_no_precision_flags():
    """trtexec 11 has no --fp16 and no per-layer precisions: the FP16 is in the ONNX it builds."""
    cmd = tb.trtexec_build_command(
        "trtexec",
        Path("m.fp16.onnx"),
        Path("m.plan"),
        tb.optimization_profiles(),
        fp16_flags=False,
        fp32_layers=["node_layer_norm"],
    )
    assert not {a.split("=")[0] for a in cmd} & {
        "--fp16",
        "--precisionConstraints",
        "--layerPrecisions",
        "--layerOutputTypes",
    }
    assert "--noTF32" in cmd and "--onnx=m.fp16.onnx" in cmd


def test_trtexec_build_command_has_profiles_and_fp32_layernorm():
    profiles = tb.optimization_profiles(strategy="per-bucket")
    cmd = tb.trtexec_build_command(
        "trtexec",
        Path("m.onnx"),
        Path("m.plan"),
        profiles,
        fp16_flags=True,
        fp32_layers=["node_layer_norm", "node_layer_norm_1"],
    )
    assert cmd[:3] == ["trtexec", "--onnx=m.onnx", "--saveEngine=m.plan"]
    assert sum(a.startswith("--minShapes=") for a in cmd) == len(profiles)
    assert "--minShapes=input_ids:1x64,attention_mask:1x64,bbox:1x64x4,pixel_values:1x3x224x224" in cmd
    assert "--fp16" in cmd and "--precisionConstraints=obey" in cmd and "--noTF32" in cmd
    assert "--layerPrecisions=node_layer_norm:fp32,node_layer_norm_1:fp32" in cmd
    fp32 = tb.trtexec_build_command(
        "trtexec", Path("m.onnx"), Path("m.plan"), profiles[:1], fp16_flags=False, fp32_layers=["node_layer_norm"]
    )
    assert "--fp16" not in fp32 and not any(a.startswith("--layerPrecisions") for a in fp32)


def test_parse_trtexec_output_reads_shape_and_non_finite_values():
    text = textwrap.dedent("""\
        [
          { "name" : "logits"
          , "dimensions" : "1x2x2"
          , "values" : [ 0.5, -1, nan, -inf ]
          }
        ]
        """)
    out = tb.parse_trtexec_output(text)
    assert out.shape == (1, 2, 2) and out[0, 0, 0] == 0.5 and np.isnan(out[0, 1, 0]) and out[0, 1, 1] == -np.inf
    with pytest.raises(tb.TensorRTBuildError):
        tb.parse_trtexec_output(text, name="other")


def _small_profile_args():
    return {"max_batch": 2, "opt_batch": 1, "opt_seq": 128}


def test_build_engine_with_trtexec_checks_and_writes(tiny_onnx, tmp_path, fake_trtexec):
    plan = tmp_path / "repo" / contract.PLAN_FILE
    result = tb.build_engine(tiny_onnx, plan, fp16=True, **_small_profile_args())
    assert result.tool == "trtexec" and plan.is_file() and result.parity.ok and result.fp16_method == "flags"
    assert result.parity.points == [(1, 64), (1, 128), (2, 512)]
    assert max(result.parity.max_abs_diff) < 1e-5
    calls = [json.loads(line) for line in fake_trtexec.read_text().splitlines()]
    build = calls[0]
    assert "--fp16" in build and any(a.startswith("--layerPrecisions=node_layer_norm") for a in build)
    assert any("--maxShapes=input_ids:2x512" in a for a in build)
    assert len(calls) == 1 + len(result.parity.points)
    assert not list(plan.parent.glob("*.partial"))


def test_build_engine_refuses_a_drifting_engine(tiny_onnx, tmp_path, fake_trtexec, monkeypatch):
    monkeypatch.setenv("FAKE_TRTEXEC_DRIFT", "0.01")  # past fp32's 1e-3, within fp16's 5e-2
    plan = tmp_path / contract.PLAN_FILE
    with pytest.raises(tb.EngineParityError):
        tb.build_engine(tiny_onnx, plan, **_small_profile_args())
    assert not plan.exists()
    result = tb.build_engine(tiny_onnx, plan, fp16=True, **_small_profile_args())
    assert result.parity.ok and plan.exists()


def test_build_engine_on_tensorrt_11_builds_the_fp16_graph(tiny_onnx, tmp_path, fake_trtexec, monkeypatch):
    """trtexec 11: no precision flags; the engine comes from the FP16 graph (LayerNorm and
    softmax in FP32), which the fake runs on the CPU, and the parity gate is the same."""
    monkeypatch.setenv("FAKE_TRTEXEC_VERSION", "110100")
    plan = tmp_path / contract.PLAN_FILE
    result = tb.build_engine(tiny_onnx, plan, fp16=True, **_small_profile_args())
    assert result.fp16_method == "graph" and result.parity.ok
    assert result.parity.label == tb.engine_report("fp16").label and result.parity.atol == tb.TOLERANCES["fp16"][0]
    build, *_ = [json.loads(line) for line in fake_trtexec.read_text().splitlines()]
    assert not any(a.startswith(("--fp16", "--precisionConstraints", "--layerPrecisions")) for a in build)
    engine = onnx.load(str(plan))  # the fake's "engine" is the graph it was given
    assert TensorProto.FLOAT16 in {t.data_type for t in engine.graph.initializer}
    assert {i.name: i.type.tensor_type.elem_type for i in engine.graph.input}["input_ids"] == TensorProto.INT32
    monkeypatch.setenv("FAKE_TRTEXEC_DRIFT", "0.2")  # past fp16's 5e-2: the same gate refuses it
    with pytest.raises(tb.EngineParityError):
        tb.build_engine(tiny_onnx, tmp_path / "drifting.plan", fp16=True, **_small_profile_args())
    assert not (tmp_path / "drifting.plan").exists()


# --- the FP16 graph (TensorRT >= 11), checked on ONNX Runtime's CPU provider ---------------


def _types(model) -> dict[str, int]:
    model = onnx.shape_inference.infer_shapes(model)
    out = {t.name: t.data_type for t in model.graph.initializer}
    for info in (*model.graph.input, *model.graph.output, *model.graph.value_info):
        out[info.name] = info.type.tensor_type.elem_type
    return out


def test_fp16_graph_keeps_layernorm_softmax_and_io_in_fp32(tiny_onnx, tmp_path):
    original = onnx.load(str(tiny_onnx))
    model = half.convert_to_fp16(original)
    types = _types(model)
    kept = [n for n in model.graph.node if n.op_type in half.KEEP_FP32_OPS]
    assert {n.op_type for n in kept} == {"LayerNormalization", "Softmax"}
    for node in kept:  # computed in FP32: every float input and output is FP32
        assert {types[name] for name in (*node.input, *node.output) if name} <= {
            TensorProto.FLOAT,
            TensorProto.INT64,
        }, node.name
    matmuls = [n for n in model.graph.node if n.op_type in ("MatMul", "Conv")]
    assert matmuls and all(types[n.output[0]] == TensorProto.FLOAT16 for n in matmuls)
    assert [(i.name, i.type.tensor_type.elem_type) for i in model.graph.input] == [
        (i.name, i.type.tensor_type.elem_type) for i in original.graph.input
    ]
    assert [o.type.tensor_type.elem_type for o in model.graph.output] == [TensorProto.FLOAT]
    # HF's attention mask adds float32's minimum: stored in FP16 it is clamped, never -inf
    for init in model.graph.initializer:
        if init.data_type == TensorProto.FLOAT16:
            assert np.isfinite(onnx.numpy_helper.to_array(init)).all(), init.name


def test_fp16_graph_matches_fp32_on_onnxruntime_cpu(tiny_onnx, tmp_path):
    """The rewrite passes the FP16 parity of every target (export/parity.py) on ONNX Runtime's
    CPU provider, at the shapes the ONNX export is checked at."""
    out = tmp_path / "model.fp16.onnx"
    report = half.write_fp16_onnx(tiny_onnx, out, VOCAB * 2)
    assert report.ok and (report.atol, report.rtol) == tb.TOLERANCES["fp16"]
    assert [tuple(p) for p in report.points] == list(half.PARITY_SHAPES)
    assert min(report.label_agreement) == 1.0
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert {i.name: i.type for i in session.get_inputs()}["pixel_values"] == "tensor(float)"


def _scaled_embedding(scale: float) -> onnx.ModelProto:
    """logits = embedding(input_ids) * scale * (1 / scale): exact in FP32; in FP16 a scale past
    65504 is clamped and its inverse loses digits, so the logits come out scaled."""
    table = helper.make_tensor(
        "embed", TensorProto.FLOAT, [VOCAB, 3], np.random.default_rng(0).standard_normal(VOCAB * 3).tolist()
    )
    nodes = [
        helper.make_node("Gather", ["embed", "input_ids"], ["emb"]),
        helper.make_node("Mul", ["emb", "up"], ["big"]),
        helper.make_node("Mul", ["big", "down"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "scaled",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["b", "s", 3])],
        initializer=[
            table,
            helper.make_tensor("up", TensorProto.FLOAT, [], [scale]),
            helper.make_tensor("down", TensorProto.FLOAT, [], [1 / scale]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    return model


def test_a_drifting_fp16_graph_is_refused_and_not_written(tmp_path):
    src = tmp_path / "scaled.onnx"
    onnx.save(_scaled_embedding(1e6), str(src))  # 1e6 becomes 65504 in FP16: logits shrink ~15x
    out = tmp_path / "scaled.fp16.onnx"
    with pytest.raises(ParityError, match="refusing to write the FP16 graph"):
        half.write_fp16_onnx(src, out, VOCAB)
    assert not out.exists() and not list(tmp_path.glob("*.partial"))
    onnx.save(_scaled_embedding(100.0), str(src))
    assert half.write_fp16_onnx(src, out, VOCAB).ok and out.is_file()


def test_index_arithmetic_stays_fp32():
    """Float math that ends in an integer (bucket indices) keeps FP32: FP16 rounding would
    move values across a bucket boundary."""
    nodes = [
        helper.make_node("Cast", ["input_ids"], ["ids_f"], to=TensorProto.FLOAT),
        helper.make_node("Log", ["ids_f"], ["log"]),
        helper.make_node("Mul", ["log", "k"], ["scaled"]),
        helper.make_node("Cast", ["scaled"], ["bucket"], to=TensorProto.INT64),
        helper.make_node("Gather", ["embed", "bucket"], ["emb"]),
        helper.make_node("Mul", ["emb", "k"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "buckets",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["b", "s", 3])],
        initializer=[
            helper.make_tensor("k", TensorProto.FLOAT, [], [7.3]),
            helper.make_tensor("embed", TensorProto.FLOAT, [VOCAB, 3], [0.5] * VOCAB * 3),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    converted = half.convert_to_fp16(model)
    types = _types(converted)
    assert types["log"] == types["scaled"] == TensorProto.FLOAT  # the index path
    assert types["emb"] == TensorProto.FLOAT16  # the model path
    assert {types["k"], types["k" + half._DOWN]} == {TensorProto.FLOAT, TensorProto.FLOAT16}  # read both ways
    ids = np.arange(1, VOCAB // 8, dtype=np.int64)[None]
    np.testing.assert_allclose(_run(converted, {"input_ids": ids}), _run(model, {"input_ids": ids}), rtol=2e-3)


def test_float_control_flow_is_refused_but_integer_control_flow_passes():
    assert half.convert_to_fp16(_toy_model())  # its If reads int64 boxes only
    then_graph = helper.make_graph(
        [helper.make_node("Identity", ["pix"], ["then_out"])],
        "then",
        [],
        [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, None)],
    )
    else_graph = helper.make_graph(
        [helper.make_node("Neg", ["pix"], ["else_out"])],
        "else",
        [],
        [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, None)],
    )
    graph = helper.make_graph(
        [helper.make_node("If", ["cond"], ["logits"], then_branch=then_graph, else_branch=else_graph)],
        "g",
        [
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("pix", TensorProto.FLOAT, [2]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [2])],
    )
    with pytest.raises(half.Fp16ConversionError, match="subgraph"):
        half.convert_to_fp16(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]))


def test_build_engine_without_tensorrt_says_where_to_run(tiny_onnx, tmp_path, monkeypatch):
    monkeypatch.setattr(tb, "tensorrt_available", lambda: False)
    monkeypatch.setattr(tb, "find_trtexec", lambda: None)
    with pytest.raises(tb.TensorRTBuildError, match="workflow image"):
        tb.build_engine(tiny_onnx, tmp_path / contract.PLAN_FILE)
    with pytest.raises(tb.TensorRTBuildError, match="build-repo"):
        tb.build_engine(tmp_path / "missing.onnx", tmp_path / contract.PLAN_FILE)


def test_command_writes_int32_onnx_without_tensorrt(tiny_onnx, tmp_path, capsys):
    from layoutlmv3_triton.commands import build_trt

    parser = argparse.ArgumentParser()
    build_trt.add_arguments(parser)
    out = tmp_path / "int32.onnx"
    assert build_trt.run(parser.parse_args(["--onnx", str(tiny_onnx), "--int32-onnx", str(out)])) == 0
    assert {i.type.tensor_type.elem_type for i in onnx.load(str(out)).graph.input} == {
        TensorProto.INT32,
        TensorProto.FLOAT,
    }
    args = parser.parse_args(["--repository", str(tmp_path / "nowhere")])
    assert build_trt.run(args) == 1
    assert "build-repo" in capsys.readouterr().err


def test_command_writes_the_fp16_graph_without_tensorrt(tiny_onnx, tmp_path, capsys):
    """build-trt --fp16-onnx: the graph the onnxruntime-trt variant serves for FP16 on TensorRT 11."""
    from layoutlmv3_triton.commands import build_trt

    parser = argparse.ArgumentParser()
    build_trt.add_arguments(parser)
    out = tmp_path / "model.fp16.onnx"
    assert build_trt.run(parser.parse_args(["--onnx", str(tiny_onnx), "--fp16-onnx", str(out)])) == 0
    assert "FP16 ONNX vs FP32 ONNX" in capsys.readouterr().out
    assert TensorProto.FLOAT16 in {t.data_type for t in onnx.load(str(out)).graph.initializer}
    assert build_trt.run(parser.parse_args(["--onnx", str(tmp_path / "none.onnx"), "--fp16-onnx", str(out)])) == 1


# --- the real thing, where there is a GPU --------------------------------------------------


@pytest.mark.gpu
@pytest.mark.parametrize("fp16", [False, True], ids=["fp32", "fp16"])
def test_tensorrt_engine_matches_onnxruntime(tiny_onnx, tmp_path, fp16):
    pytest.importorskip("tensorrt")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    plan = tmp_path / contract.PLAN_FILE
    result = tb.build_engine(tiny_onnx, plan, fp16=fp16, tool="python", **_small_profile_args())
    assert result.tool == "python" and plan.stat().st_size > 0 and result.parity.ok
