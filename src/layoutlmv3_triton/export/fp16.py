"""An FP32 ONNX graph rewritten in FP16, for TensorRT's strongly typed networks.

TensorRT 11 removed weak typing: no ``BuilderFlag.FP16``, no per-layer precision, no
``trtexec --fp16`` (NVIDIA's "Migrating from TensorRT 10.x to 11.x" guide).  An engine now
computes in the types its ONNX graph declares, so an FP16 engine needs an FP16 graph.  This
module writes that graph with the ``onnx`` package alone:

* LayerNormalization and Softmax stay FP32 (FP16 LayerNorm overflows and the logits drift;
  softmax sums many exponentials): their inputs are cast up, their outputs cast down.
* Float computations whose result is cast to an integer stay FP32 (index arithmetic such as
  relative-position buckets: an FP16 rounding would pick another embedding row).
* Graph inputs and outputs keep their types (FP32 pixels in, FP32 logits out), so the model
  step's config and the parity check do not change.
* Float weights used in FP16 are stored in FP16, clamped to +-65504: Hugging Face attention
  masks add float32's minimum, which FP16 would turn into -inf and then NaN.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from layoutlmv3_triton.errors import LayoutLMv3TritonError
from layoutlmv3_triton.export.parity import PARITY_SHAPES, TOLERANCES, ParityReport, compare

KEEP_FP32_OPS = ("LayerNormalization", "Softmax")
FP16_MAX = float(np.finfo(np.float16).max)  # 65504
_UP, _DOWN = "__fp32", "__fp16"  # suffixes of the Cast outputs this module inserts


class Fp16ConversionError(LayoutLMv3TritonError):
    """The graph has something this rewrite does not handle (control flow over floats)."""


def convert_to_fp16(model, keep_ops: Iterable[str] = KEEP_FP32_OPS):
    """A copy of ``model`` computing in FP16 except ``keep_ops`` and index arithmetic."""
    import onnx
    from onnx import TensorProto

    model = onnx.shape_inference.infer_shapes(onnx.ModelProto.FromString(model.SerializeToString()), strict_mode=True)
    graph = model.graph
    types = _tensor_types(graph)
    floats = {name for name, kind in types.items() if kind == TensorProto.FLOAT}
    _refuse_float_control_flow(graph, floats)
    fp32 = _fp32_nodes(graph, set(keep_ops), floats)  # node positions
    inits = {t.name: t for t in graph.initializer}

    # Where each float tensor lives: FP16 if an FP16 node makes it, else FP32 (inputs, kept nodes).
    home16 = {out for i, node in enumerate(graph.node) if i not in fp32 for out in node.output if out in floats}
    readers: dict[str, list[bool]] = {}  # float tensor -> "reader computes in FP16" per reading node
    for i, node in enumerate(graph.node):
        for name in node.input:
            if name in floats:
                readers.setdefault(name, []).append(i not in fp32)
    _convert_initializers(graph, inits, readers, floats, home16)

    # A float graph output made in FP16 is renamed inside the graph and cast back at the end.
    renamed = {o.name: o.name + _DOWN for o in graph.output if o.name in home16}
    _rename(graph, renamed)
    home16 = {renamed.get(n, n) for n in home16}
    floats |= set(renamed.values())

    nodes, casts = [], {}

    def read(name: str, want16: bool) -> str:
        """The name under which a reader of precision ``want16`` finds tensor ``name``."""
        if name not in floats or (name in home16) == want16:
            return name
        key = name + (_DOWN if want16 else _UP)
        if key not in casts:
            casts[key] = onnx.helper.make_node(
                "Cast", [name], [key], name=f"cast_{key}", to=TensorProto.FLOAT16 if want16 else TensorProto.FLOAT
            )
            nodes.append(casts[key])
        return key

    for position, node in enumerate(graph.node):
        half = position not in fp32
        for i, name in enumerate(node.input):
            if name:
                node.input[i] = read(name, half)
        if half:
            _retype_attributes(node)
        nodes.append(node)
    for name, inner in renamed.items():
        nodes.append(onnx.helper.make_node("Cast", [inner], [name], name=f"cast_{name}_out", to=TensorProto.FLOAT))
    del graph.node[:]
    graph.node.extend(nodes)
    for info in graph.value_info:
        if info.name in home16:
            info.type.tensor_type.elem_type = TensorProto.FLOAT16
    onnx.checker.check_model(model, full_check=True)
    return model


def write_fp16_onnx(src: str | Path, dst: str | Path, vocab_size: int) -> ParityReport:
    """Write the FP16 graph of the ONNX model ``src`` to ``dst``, checked first against ``src``
    on ONNX Runtime's CPU provider (:func:`check_fp16_onnx`): a drifting graph is not written.
    ``vocab_size``: of the check's random token ids."""
    import onnx

    model = onnx.load(str(src))
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    partial = dst.with_name(dst.name + ".partial")
    onnx.save(convert_to_fp16(model), str(partial))
    try:
        report = check_fp16_onnx(src, partial, vocab_size)
    except BaseException:
        partial.unlink()
        raise
    partial.replace(dst)
    return report


def check_fp16_onnx(
    fp32_path: str | Path, fp16_path: str | Path, vocab_size: int, shapes=PARITY_SHAPES, threads: int = 0
) -> ParityReport:
    """The FP16 graph against its FP32 source on ONNX Runtime's CPU provider, at the FP16
    tolerance of every target (:data:`.parity.TOLERANCES`).  The CPU provider runs FP16 nodes it
    has no FP16 kernel for in FP32 (onnxruntime ``core/optimizer/insert_cast_transformer.cc``), so
    this proves the rewrite (types, casts, FP16 weights, clamped constants), not FP16 arithmetic:
    that is the engine's parity gate on the GPU."""
    from layoutlmv3_triton.serving.onnx_classifier import OnnxTokenClassifier

    atol, rtol = TOLERANCES["fp16"]
    report = ParityReport("FP16 ONNX vs FP32 ONNX (ONNX Runtime CPU)", atol, rtol)
    compare(
        report,
        OnnxTokenClassifier(fp32_path, threads).run,
        OnnxTokenClassifier(fp16_path, threads).run,
        shapes,
        vocab_size,
    )
    return report.raise_if_drifting("refusing to write the FP16 graph")


def _rename(graph, renamed: dict[str, str]) -> None:
    for node in graph.node:
        for names in (node.input, node.output):
            for i, name in enumerate(names):
                names[i] = renamed.get(name, name)
    for info in graph.value_info:
        info.name = renamed.get(info.name, info.name)


def _tensor_types(graph) -> dict[str, int]:
    types = {t.name: t.data_type for t in graph.initializer}
    for info in (*graph.input, *graph.output, *graph.value_info):
        if info.type.HasField("tensor_type"):
            types[info.name] = info.type.tensor_type.elem_type
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    types[node.output[0]] = attr.t.data_type
    return types


def _outer_names(graph) -> set[str]:
    """Names a subgraph reads that it does not define itself (outer-scope values)."""
    from onnx import AttributeProto

    defined = {t.name for t in graph.initializer} | {i.name for i in graph.input}
    read = set()
    for node in graph.node:
        read.update(n for n in node.input if n)
        defined.update(node.output)
        for attr in node.attribute:
            for sub in (
                [attr.g]
                if attr.type == AttributeProto.GRAPH
                else attr.graphs if attr.type == AttributeProto.GRAPHS else []
            ):
                read |= _outer_names(sub)
    read.update(o.name for o in graph.output)
    return read - defined


def _refuse_float_control_flow(graph, floats: set[str]) -> None:
    from onnx import AttributeProto, TensorProto

    for node in graph.node:
        for attr in node.attribute:
            subs = (
                [attr.g]
                if attr.type == AttributeProto.GRAPH
                else attr.graphs if attr.type == AttributeProto.GRAPHS else []
            )
            for sub in subs:
                if _outer_names(sub) & floats or any(
                    o.type.tensor_type.elem_type == TensorProto.FLOAT for o in sub.output
                ):
                    raise Fp16ConversionError(
                        f"{node.op_type} node {node.name!r} computes with floats inside "
                        "a subgraph: not supported by the FP16 rewrite"
                    )


def _fp32_nodes(graph, keep_ops: set[str], floats: set[str]) -> set[int]:
    """Positions of the nodes that stay FP32: ``keep_ops``, each Cast from float to an integer,
    and the float producers behind it (walked back to where the values came in)."""
    from onnx import TensorProto

    integer = {
        TensorProto.INT8,
        TensorProto.INT16,
        TensorProto.INT32,
        TensorProto.INT64,
        TensorProto.UINT8,
        TensorProto.UINT16,
        TensorProto.UINT32,
        TensorProto.UINT64,
        TensorProto.BOOL,
    }
    producer = {out: i for i, node in enumerate(graph.node) for out in node.output}
    keep = {i for i, node in enumerate(graph.node) if node.op_type in keep_ops}
    todo = []
    for i, node in enumerate(graph.node):
        to = next((a.i for a in node.attribute if a.name == "to"), None)
        if node.op_type == "Cast" and to in integer and node.input[0] in floats:
            keep.add(i)
            todo.append(node.input[0])
    while todo:
        source = producer.get(todo.pop())
        if source is not None and source not in keep:
            keep.add(source)
            todo.extend(n for n in graph.node[source].input if n in floats)
    return keep


def _to_fp16_tensor(tensor, name: str | None = None):
    from onnx import numpy_helper

    values = numpy_helper.to_array(tensor)
    return numpy_helper.from_array(
        np.clip(values, -FP16_MAX, FP16_MAX).astype(np.float16), name if name is not None else tensor.name
    )


def _convert_initializers(graph, inits: dict, readers: dict, floats: set[str], home16: set[str]) -> None:
    """Float weights read only in FP16 become FP16; read both ways, they get an FP16 twin."""
    for name, tensor in inits.items():
        if name not in floats or not any(readers.get(name, [])):
            continue  # not float, or read only by FP32 nodes: stays as it is
        if all(readers[name]):
            tensor.CopyFrom(_to_fp16_tensor(tensor))
            home16.add(name)
        else:  # the FP16 readers find it through read(), which looks for name + _DOWN
            twin = _to_fp16_tensor(tensor, name + _DOWN)
            graph.initializer.append(twin)
            home16.add(twin.name)
            floats.add(twin.name)
            _redirect_fp16_readers(graph, name, twin.name, readers)


def _redirect_fp16_readers(graph, name: str, twin: str, readers: dict) -> None:
    # Nodes are visited in the same order readers[] was filled in.
    flags = iter(readers[name])
    for node in graph.node:
        for i, item in enumerate(node.input):
            if item == name and next(flags):
                node.input[i] = twin


def _retype_attributes(node) -> None:
    """An FP16 node's own float constants and output types: Cast/EyeLike targets, Constant values."""
    from onnx import TensorProto, helper, numpy_helper

    names = {a.name for a in node.attribute}
    if node.op_type == "ConstantOfShape" and "value" not in names:  # the default value is an FP32 zero
        node.attribute.append(helper.make_attribute("value", numpy_helper.from_array(np.zeros(1, np.float16))))
    for name in ("value_float", "value_floats"):  # Constant's scalar forms: make them a tensor
        if name in names:
            attr = next(a for a in node.attribute if a.name == name)
            values = np.asarray(attr.f if name == "value_float" else list(attr.floats), dtype=np.float32)
            node.attribute.remove(attr)
            node.attribute.append(helper.make_attribute("value", numpy_helper.from_array(values)))
    for attr in node.attribute:
        if attr.name in ("to", "dtype") and attr.i == TensorProto.FLOAT:
            attr.i = TensorProto.FLOAT16
        elif attr.name == "value" and attr.t.data_type == TensorProto.FLOAT:  # Constant, ConstantOfShape
            attr.t.CopyFrom(_to_fp16_tensor(attr.t, attr.t.name))
