"""Rewrites of the exported ONNX graph that keep its results bit for bit and cost less on CPU.

``gather_whole_rows``: LayoutLMv3 looks its relative-position biases up with
``table.index_select(1, indices)`` on a small ``[heads, buckets]`` table, once for the
1-D positions and once for each of x and y, for every pair of the (text + image)
tokens: ``Gather(axis=1)`` with 500,000 indices at 512 tokens.  ONNX Runtime copies
one float per index and head there (50 ms a table at 512 tokens, 1 thread); gathering
whole rows of the transposed table (``[buckets, heads]``, ``axis=0``) and transposing
the result copies the same values in 10 ms.  The values are the same floats in the
same places, so the logits do not change at all.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def gather_whole_rows(model) -> int:
    """Rewrite every ``Gather(axis=1)`` of a 2-D initializer whose indices' rank is known
    into ``Transpose(Gather(axis=0) of the transposed initializer)``.  Returns how many."""
    import numpy as np
    from onnx import helper, numpy_helper, shape_inference

    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    inferred = shape_inference.infer_shapes(model)
    ranks = {
        info.name: len(info.type.tensor_type.shape.dim)
        for info in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
        if info.type.tensor_type.HasField("shape")
    }
    nodes, rewritten = [], 0
    for node in graph.node:
        if node.op_type != "Gather":
            nodes.append(node)
            continue
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
        table, rank = initializers.get(node.input[0]), ranks.get(node.input[1])
        if table is None or axis != 1 or len(table.dims) != 2 or rank is None:
            nodes.append(node)
            continue
        transposed = f"{table.name}_rows"
        if transposed not in initializers:
            array = numpy_helper.to_array(table)
            initializers[transposed] = numpy_helper.from_array(np.ascontiguousarray(array.T), transposed)
            graph.initializer.append(initializers[transposed])
        rows = f"{node.output[0]}_rows"
        nodes.append(helper.make_node("Gather", [transposed, node.input[1]], [rows], name=f"{node.name}_rows", axis=0))
        nodes.append(
            helper.make_node(
                "Transpose", [rows], [node.output[0]], name=f"{node.name}_heads_first", perm=[rank] + list(range(rank))
            )
        )
        rewritten += 1
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input}
    unused = [init for init in graph.initializer if init.name not in used]
    for init in unused:
        graph.initializer.remove(init)
    log.info("gather_whole_rows: %d column gathers now gather rows", rewritten)
    return rewritten
