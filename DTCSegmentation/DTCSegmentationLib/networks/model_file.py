"""Model files: one ``.safetensors`` file with weights and everything needed to run them.

The metadata is one JSON document stored under the key ``dtc`` of the safetensors
header: architecture and arguments, input size and channels, intensity normalisation,
resize mode, threshold, tap layers, class names, provenance and validation metrics, and
a format version.  Loading validates the metadata and every tensor's name and shape
against the rebuilt network, and never unpickles anything.  Plain PyTorch state dicts
(``.pt`` / ``.pth``) can be imported with ``torch.load(weights_only=True)``.
"""

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import nn

from DTCSegmentationLib.atomic import atomic_output
from DTCSegmentationLib.choices import MIN_INPUT_SIZE
from DTCSegmentationLib.errors import DTCError, PathLike
from DTCSegmentationLib.networks import NetworkError, build_network, network_entry

FORMAT_VERSION = 1
METADATA_KEY = "dtc"


class ModelFileError(DTCError):
    """A model file that is missing, truncated, foreign or inconsistent."""


@dataclass
class ModelInfo:
    """Everything about a trained network except its weights.

    Attributes:
        architecture: registry name (see :mod:`DTCSegmentationLib.networks`).
        arguments: network constructor arguments.
        in_channels: 1 (gray) or 3 (RGB).
        input_size: ``(H, W)`` the network sees.
        resize_mode: ``resize`` (stretch to the input size) or ``letterbox`` (keep aspect, pad).
        normalization: ``{"scale": s, "mean": m, "std": d}``: ``x = (pixel * s - m) / d``.
        threshold: probability above which a pixel is prostate.
        class_names: one name per output channel.
        local_tap, global_tap: feature layers for training (defaults from the registry).
        provenance: how the model was made (data, command, seed, versions).
        metrics: validation metrics of the saved weights.
        quantization: empty for float32 weights; for an int8 ONNX file how it was quantized and how well
            its masks agree with the float32 model's (see :mod:`DTCSegmentationLib.networks.quantization`).
    """

    architecture: str = "fast_unet"
    arguments: Dict[str, Any] = field(default_factory=dict)
    in_channels: int = 1
    input_size: Tuple[int, int] = (256, 448)
    resize_mode: str = "resize"
    normalization: Dict[str, float] = field(default_factory=lambda: {"scale": 1 / 255.0, "mean": 0.5, "std": 0.25})
    threshold: float = 0.5
    class_names: List[str] = field(default_factory=lambda: ["prostate"])
    local_tap: str = ""
    global_tap: str = ""
    provenance: Dict[str, Any] = field(default_factory=dict)
    metrics: Dict[str, float] = field(default_factory=dict)
    quantization: Dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def __post_init__(self):
        if not isinstance(self.architecture, str):
            raise ValueError(f"architecture {self.architecture!r} is not a name")
        self.input_size = tuple(int(v) for v in self.input_size)
        entry = network_entry(self.architecture)
        self.local_tap = self.local_tap or entry.local_tap
        self.global_tap = self.global_tap or entry.global_tap

    @property
    def out_channels(self) -> int:
        return len(self.class_names)

    def to_json(self) -> str:
        values = asdict(self)
        if not values["quantization"]:
            del values["quantization"]  # float32 files stay readable by DTC versions without int8 support
        return json.dumps(values, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, path: Optional[Path] = None) -> "ModelInfo":
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ModelFileError(f"has unreadable DTC metadata ({error}).", path, "Re-export the model.") from None
        if not isinstance(values, dict):
            raise ModelFileError("has DTC metadata that is not a JSON object.", path, "Re-export the model.")
        version = values.get("format_version", 0)
        if not isinstance(version, int):
            raise ModelFileError(f"has an invalid model format version {version!r}.", path, "Re-export the model.")
        if version > FORMAT_VERSION:
            raise ModelFileError(f"was written by a newer DTC (model format {version}).", path,
                                 "Update the DTC extension to load it.")
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ModelFileError(f"has unknown metadata fields {unknown}.", path, "Re-export the model with this DTC version.")
        try:
            info = cls(**values)
        except (TypeError, ValueError) as error:
            raise ModelFileError(f"has invalid metadata ({error}).", path, "Re-export the model.") from None
        problem = info.problem()
        if problem:
            raise ModelFileError(f"has invalid metadata: {problem}.", path, "Re-export the model.")
        return info

    def problem(self) -> str:
        """What makes these values unusable for inference ('' when nothing does)."""
        size = self.input_size
        if len(size) != 2 or min(size) < MIN_INPUT_SIZE:
            return f"input size {list(size)}, expected two sides of at least {MIN_INPUT_SIZE} pixels"
        if self.resize_mode not in ("resize", "letterbox"):
            return f"resize mode {self.resize_mode!r}"
        if self.in_channels not in (1, 3):
            return f"{self.in_channels} input channels"
        if not isinstance(self.arguments, dict):
            return f"network arguments {self.arguments!r} (not an object)"
        if not isinstance(self.threshold, (int, float)) or not 0.0 < self.threshold < 1.0:
            return f"threshold {self.threshold!r}, expected a probability strictly between 0 and 1"
        numbers = [self.normalization.get(key, 1.0) for key in ("scale", "std")] if isinstance(self.normalization, dict) else []
        if not numbers or not all(isinstance(v, (int, float)) and math.isfinite(v) and v != 0 for v in numbers):
            return f"normalization {self.normalization!r}"
        if not self.class_names:
            return "no class names"
        return ""

    def build(self) -> nn.Module:
        """A freshly initialised network of this architecture."""
        return build_network(self.architecture, self.in_channels, self.out_channels, self.arguments)


def save_model(path: PathLike, model: nn.Module, info: ModelInfo, overwrite: bool = False) -> Path:
    """Write ``model``'s weights and ``info`` as one ``.safetensors`` file (atomically)."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ModelFileError("model files must end in .safetensors.", path, "Rename the output.")
    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    with atomic_output(path, overwrite=overwrite) as temporary:
        save_file(tensors, str(temporary), metadata={METADATA_KEY: info.to_json(), "format": "pt"})
    return path


def read_model_info(path: PathLike) -> ModelInfo:
    """The metadata of a model file, without loading its weights."""
    from safetensors import safe_open

    path = _existing(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except Exception as error:  # safetensors raises its own SafetensorError and OSError variants
        raise ModelFileError(f"is not a readable safetensors file ({error}).", path,
                             "Check the download is complete, or export the model again.") from None
    if METADATA_KEY not in metadata:
        raise ModelFileError("is a safetensors file without DTC metadata.", path,
                             f"Import plain weights with `dtc export {path} --architecture NAME --out MODEL.safetensors`.")
    return ModelInfo.from_json(metadata[METADATA_KEY], path)


def load_model(path: PathLike, device: str = "cpu") -> Tuple[nn.Module, ModelInfo]:
    """Rebuild the network of a model file and load its weights; returns ``(model in eval mode, info)``."""
    from safetensors.torch import load_file

    path = _existing(path)
    info = read_model_info(path)
    try:
        model = info.build()
    except NetworkError as error:
        raise ModelFileError(f"describes a network that cannot be built: {error}", path, "Re-export the model.") from None
    try:
        tensors = load_file(str(path), device="cpu")
    except Exception as error:
        raise ModelFileError(f"has damaged weights ({error}).", path, "Download or export the model again.") from None
    load_weights(model, tensors, path)
    return model.to(device).eval(), info


def load_weights(model: nn.Module, tensors: Dict[str, torch.Tensor], path: Optional[Path] = None) -> None:
    """Copy ``tensors`` into ``model``, refusing missing, unexpected or mis-shaped tensors."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(name for name in set(expected) & set(tensors) if tuple(expected[name].shape) != tuple(tensors[name].shape))
    if missing or unexpected or wrong:
        details = "; ".join(part for part in (
            f"missing {missing[:3]}" if missing else "", f"unexpected {unexpected[:3]}" if unexpected else "",
            f"wrong shape {wrong[:3]}" if wrong else "") if part)
        raise ModelFileError(f"weights do not fit the network ({details}).", path,
                             "Check the architecture and its arguments match the weights.")
    model.load_state_dict(tensors, strict=True)


def import_state_dict(path: PathLike, info: ModelInfo) -> nn.Module:
    """Build ``info``'s network and load plain weights (``.pt`` / ``.pth`` state dict, ``.safetensors``) into it.

    Uses ``torch.load(weights_only=True)``: tensors only, never arbitrary pickled objects; a
    ``.safetensors`` file of plain weights (no DTC metadata) is read with safetensors.
    A ``{"state_dict": ...}`` or ``{"model": ...}`` wrapper is unwrapped, and a ``module.``
    prefix (DataParallel / DDP) is removed.
    """
    path = _existing(path)
    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        try:
            loaded = load_file(str(path), device="cpu")
        except Exception as error:  # safetensors raises its own SafetensorError and OSError variants
            raise ModelFileError(f"is not a readable safetensors file ({error}).", path,
                                 "Check the download is complete.") from None
    else:
        try:
            loaded = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as error:
            raise ModelFileError(f"is not a plain PyTorch state dict ({error}).", path,
                                 "Save weights with torch.save(model.state_dict(), path).") from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise ModelFileError("does not hold a state dict of tensors.", path,
                             "Save weights with torch.save(model.state_dict(), path).")
    tensors = {name[7:] if name.startswith("module.") else name: value for name, value in loaded.items()}
    try:
        model = info.build()
    except NetworkError as error:
        raise ModelFileError(f"cannot be imported: {error}", path, "Check --architecture and --arguments.") from None
    load_weights(model, tensors, path)
    return model.eval()


def _existing(path: PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError("does not exist.", path, "Check the model path.")
    return path
