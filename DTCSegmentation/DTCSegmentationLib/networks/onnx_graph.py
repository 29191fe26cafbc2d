"""Graph clean-up of exported ONNX models: constant resize factors instead of sizes computed at run time.

``F.interpolate(x, size=skip.shape[-2:])`` exports as ``Shape -> Gather -> Concat -> Resize(sizes)``:
the target size is recomputed on every run, although the model's input size - and so every
feature map's height and width - is fixed.  Besides the small operators themselves, those
``Shape`` nodes keep whole feature maps alive in float32: in an int8 graph each one needs a
dequantized copy (and a layout transpose) of a tensor that is otherwise used only in int8.
Where ONNX shape inference proves a ``Resize``'s input and output heights and widths, and their
ratio is exact in float32, the sizes are replaced by constant scales (the same output size and
the same sampling positions) and the shape arithmetic that fed them is removed.  The batch axis
stays dynamic.  Measured on the shipped fast_unet at 256 x 448 (one thread, CPU time per frame):
float32 about 9 % and int8 about 5 % less.
"""

from typing import Dict, List, Optional

import numpy as np


def _static_shapes(model) -> Dict[str, List[Optional[int]]]:
    from onnx import shape_inference

    try:
        inferred = shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # shape inference is an optimisation here: a graph it cannot follow is left as exported
        return {}
    values = list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    return {value.name: [d.dim_value if d.HasField("dim_value") else None for d in value.type.tensor_type.shape.dim]
            for value in values}


def constant_resize_scales(model) -> int:
    """Give every ``Resize`` with run-time sizes and provable static image dimensions constant scales, in place.

    Returns how many were changed; operators left without a consumer are removed.
    """
    from onnx import numpy_helper

    shapes = _static_shapes(model)
    changed = 0
    for node in model.graph.node:
        if node.op_type != "Resize" or len(node.input) < 4 or not node.input[3]:
            continue
        source, target = shapes.get(node.input[0]), shapes.get(node.output[0])
        if not source or not target or len(source) != len(target) or len(source) < 3:
            continue
        if None in source[2:] or None in target[2:] or 0 in source[2:]:
            continue
        scales = np.array([1.0, 1.0] + [b / a for a, b in zip(source[2:], target[2:])], np.float32)
        # ONNX Runtime sizes the output as floor(input * scale) and samples at (output + 0.5) / scale - 0.5:
        # only a scale that is exact in float32 gives both of them as the sizes did.
        if any(float(scale) * a != b for scale, a, b in zip(scales[2:], source[2:], target[2:])):
            continue
        name = f"{node.output[0]}_constant_scales"
        model.graph.initializer.append(numpy_helper.from_array(scales, name))
        inputs = [node.input[0], node.input[1], name]
        del node.input[:]
        node.input.extend(inputs)
        changed += 1
    if changed:
        _remove_unused(model)
    return changed


def _remove_unused(model) -> None:
    while True:
        used = {name for node in model.graph.node for name in node.input} | {value.name for value in model.graph.output}
        unused = [node for node in model.graph.node if not any(name in used for name in node.output)]
        if not unused:
            break
        for node in unused:
            model.graph.node.remove(node)
    used = {name for node in model.graph.node for name in node.input} | {value.name for value in model.graph.input}
    kept = [tensor for tensor in model.graph.initializer if tensor.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
