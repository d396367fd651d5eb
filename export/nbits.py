"""The step graph with its grid weights packed (issue 17): every ``MatMul`` by a constant weight matrix
that lies on the checkpoint's grid becomes onnxruntime's ``MatMulNBits`` (com.microsoft) over the packed
codes and scales. Computation stays float32 (``accuracy_level`` 0: the codes are expanded to the very
float weights PyTorch holds), so the parity check against PyTorch still holds to float rounding; what
changes is that a call reads 4 bits per weight instead of 32."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from engine.errors import EventSepError
from engine.weight_grid import WeightGrid

MS_DOMAIN = "com.microsoft"


def pack_matmuls(path: str | Path, grid: WeightGrid, expected: int) -> int:
    """Rewrite the ONNX file at ``path`` in place; returns how many MatMuls were packed. Raises when
    fewer than ``expected`` constant weight matrices are on the grid (a checkpoint trained on after it
    was snapped, or a graph the exporter does not know)."""
    model = onnx.load(str(path))
    inits = {i.name: i for i in model.graph.initializer}
    nodes, packed = [], 0
    for node in model.graph.node:
        weight = inits.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        w = numpy_helper.to_array(weight) if weight is not None else None
        found = grid.recover(w) if w is not None and w.ndim == 2 and w.dtype == np.float32 else None
        if found is None:
            nodes.append(node)          # not a grid weight (a filterbank, say): stays a float MatMul
            continue
        k, n = w.shape
        codes, scales = grid.packed(*found)
        b_name, s_name = f"{weight.name}_nbits{grid.bits}", f"{weight.name}_scales"
        model.graph.initializer.extend([numpy_helper.from_array(codes, b_name),
                                        numpy_helper.from_array(scales, s_name)])
        nodes.append(helper.make_node("MatMulNBits", [node.input[0], b_name, s_name], list(node.output),
                                      name=f"{node.name or weight.name}_nbits", domain=MS_DOMAIN,
                                      K=k, N=n, bits=grid.bits, block_size=grid.block, accuracy_level=0))
        packed += 1
    if packed < expected:
        raise EventSepError(f"{Path(path).name}: only {packed} of {expected} weight matrices lie on the "
                            f"{grid.bits}-bit grid the checkpoint declares; was it trained after "
                            f"`eventsep quantize`? Quantize it again")
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    used = {name for node in model.graph.node for name in node.input}
    kept = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    if not any(op.domain == MS_DOMAIN for op in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    onnx.save(model, str(path))
    return packed
