"""Graph passes keep the exported model's results bit for bit."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from layoutlmv3_triton.export.graph_passes import gather_whole_rows


def _column_gather_model(table: np.ndarray) -> onnx.ModelProto:
    """out = table.index_select(1, flatten(idx)).reshape(heads, *idx.shape), as LayoutLMv3 exports it."""
    nodes = [
        helper.make_node("Reshape", ["idx", "flat"], ["idx_flat"]),
        helper.make_node("Gather", ["table", "idx_flat"], ["gathered"], axis=1),
        helper.make_node("Reshape", ["gathered", "shape"], ["out"]),
        helper.make_node("Gather", ["table", "idx_flat"], ["rows_already"], axis=0),  # not a column gather: kept
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("idx", TensorProto.INT64, [3, 5])],
        [
            helper.make_tensor_value_info("out", TensorProto.FLOAT, [table.shape[0], 3, 5]),
            helper.make_tensor_value_info("rows_already", TensorProto.FLOAT, [15, table.shape[1]]),
        ],
        [
            numpy_helper.from_array(table, "table"),
            numpy_helper.from_array(np.array([-1], np.int64), "flat"),
            numpy_helper.from_array(np.array([table.shape[0], 3, 5], np.int64), "shape"),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def _run(model: onnx.ModelProto, idx: np.ndarray) -> list[np.ndarray]:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"idx": idx})


def test_column_gathers_become_row_gathers_with_identical_results():
    rng = np.random.default_rng(0)
    table = rng.standard_normal((4, 7)).astype(np.float32)
    model = _column_gather_model(table)
    idx = rng.integers(0, 4, (3, 5)).astype(np.int64)
    before = _run(model, idx)
    assert gather_whole_rows(model) == 1
    onnx.checker.check_model(model)
    ops = [(n.op_type, next((a.i for a in n.attribute if a.name == "axis"), None)) for n in model.graph.node]
    assert ("Gather", 1) not in ops and ("Transpose", None) in ops
    after = _run(model, idx)
    for a, b in zip(before, after):
        assert np.array_equal(a, b)
