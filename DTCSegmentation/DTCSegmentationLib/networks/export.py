"""Deployment files with the model metadata embedded: ONNX and TorchScript.

* ONNX: the model metadata JSON is the ``dtc`` entry of the graph's ``metadata_props``;
  the batch axis is dynamic, the image size fixed (the model's input size), so resize factors
  are constants (:mod:`.onnx_graph`).
* TorchScript: a traced, frozen module with the metadata as the extra file ``dtc.json``.
Both give the same masks as the eager model (tested).
"""

import inspect
import io
import warnings
from pathlib import Path
from typing import Tuple

import torch
from torch import nn

from DTCSegmentationLib.atomic import atomic_output
from DTCSegmentationLib.errors import PathLike
from DTCSegmentationLib.networks.model_file import METADATA_KEY, ModelFileError, ModelInfo
from DTCSegmentationLib.networks.onnx_graph import constant_resize_scales

_EXTRA_FILE = "dtc.json"


def _example(info: ModelInfo, device: torch.device = torch.device("cpu")) -> torch.Tensor:
    return torch.zeros(1, info.in_channels, *info.input_size, device=device)


def onnx_bytes(model: nn.Module, info: ModelInfo, opset: int = 17) -> bytes:
    """The model as an ONNX graph (bytes) with the metadata embedded."""
    import onnx

    model = model.cpu().eval()
    buffer = io.BytesIO()
    options = {}
    # torch >= 2.9 defaults to the torch.export-based exporter, which needs the extra
    # onnxscript package; the TorchScript-based one handles these plain CNNs exactly.
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        options["dynamo"] = False
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and constant-folding notes
        torch.onnx.export(model, (_example(info),), buffer, input_names=["image"], output_names=["logits"],
                          dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, opset_version=opset, **options)
    graph = onnx.load_from_string(buffer.getvalue())
    constant_resize_scales(graph)
    entry = graph.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, info.to_json()
    return graph.SerializeToString()


def export_onnx(model: nn.Module, info: ModelInfo, path: PathLike, overwrite: bool = False) -> Path:
    """Write an ``.onnx`` file (atomically)."""
    data = onnx_bytes(model, info)
    with atomic_output(path, overwrite=overwrite) as temporary:
        Path(temporary).write_bytes(data)
    return Path(path)


def torchscript_module(model: nn.Module, info: ModelInfo, device: torch.device = torch.device("cpu")) -> torch.jit.ScriptModule:
    """A traced and frozen TorchScript module of ``model`` on ``device`` (frozen constants live there)."""
    model = model.to(device).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated upstream but still the portable format
        traced = torch.jit.trace(model, _example(info, device), check_trace=False)
        return torch.jit.freeze(traced)


def export_torchscript(model: nn.Module, info: ModelInfo, path: PathLike, overwrite: bool = False) -> Path:
    """Write a TorchScript ``.pt`` file with the metadata as extra file ``dtc.json`` (atomically)."""
    module = torchscript_module(model, info)
    with atomic_output(path, overwrite=overwrite) as temporary, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(module, str(temporary), _extra_files={_EXTRA_FILE: info.to_json()})
    return Path(path)


def read_onnx(path: PathLike) -> Tuple[bytes, ModelInfo]:
    """The ONNX graph bytes and the embedded metadata of an exported file."""
    import onnx

    path = Path(path)
    try:
        data = path.read_bytes()
        graph = onnx.load_from_string(data)
    except Exception as error:
        raise ModelFileError(f"is not a readable ONNX file ({error}).", path, "Export it again with `dtc export`.") from None
    props = {entry.key: entry.value for entry in graph.metadata_props}
    if METADATA_KEY not in props:
        raise ModelFileError("is an ONNX file without DTC metadata.", path, "Export it with `dtc export --format onnx`.")
    return data, ModelInfo.from_json(props[METADATA_KEY], path)


def read_torchscript(path: PathLike, device: torch.device = torch.device("cpu")):
    """The TorchScript module and the embedded metadata of an exported file."""
    path = Path(path)
    extra = {_EXTRA_FILE: ""}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location=device, _extra_files=extra)
    except Exception as error:
        raise ModelFileError(f"is not a readable TorchScript file ({error}).", path,
                             "Export it again with `dtc export --format torchscript`.") from None
    if not extra[_EXTRA_FILE]:
        raise ModelFileError("is a TorchScript file without DTC metadata.", path,
                             "Export it with `dtc export --format torchscript`.")
    text = extra[_EXTRA_FILE]
    return module.eval(), ModelInfo.from_json(text.decode() if isinstance(text, bytes) else text, path)
