"""The model step's memory setting: onnxruntime's CPU arena on by default, off on request."""

from __future__ import annotations

import numpy as np
import pytest

from layoutlmv3_triton.serving.onnx_classifier import make_session
from layoutlmv3_triton.serving.settings import ModelParameters

onnx = pytest.importorskip("onnx")


@pytest.fixture
def identity_model(tmp_path):
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])],
    )
    path = tmp_path / "identity.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_the_arena_is_on_by_default_and_can_be_turned_off(identity_model):
    assert ModelParameters().cpu_memory_arena is True
    assert ModelParameters.from_parameters({"cpu_memory_arena": "false"}).cpu_memory_arena is False
    on = make_session(identity_model, 1)
    off = make_session(identity_model, 1, memory_arena=False)
    assert on.get_session_options().enable_cpu_mem_arena and not off.get_session_options().enable_cpu_mem_arena
    x = np.arange(4, dtype=np.float32)
    assert np.array_equal(off.run(None, {"x": x})[0], x)
