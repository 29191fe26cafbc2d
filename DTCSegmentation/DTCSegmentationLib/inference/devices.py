"""Choosing the compute device, with one clear message when the requested one is absent."""

import torch

from DTCSegmentationLib.choices import DEVICES
from DTCSegmentationLib.errors import DTCError


class DeviceError(DTCError):
    """A requested device that this machine does not have."""


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then CPU; ``cuda``, ``cuda:N``, ``mps`` and ``cpu`` are checked.

    Raises:
        DeviceError: the device does not exist here (names the fix: another device or a driver).
    """
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"device '{name}' was requested but this machine has no usable CUDA GPU "
                              f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'none'}).",
                              fix="Use --device cpu (or auto), or install a CUDA build of torch and the GPU driver.")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"device '{name}' does not exist: {torch.cuda.device_count()} GPU(s) found.",
                              fix=f"Use cuda:0 ... cuda:{torch.cuda.device_count() - 1}.")
        return device
    if name == "mps":
        if not _mps_available():
            raise DeviceError("device 'mps' was requested but Apple Metal is not available here.",
                              fix="Use --device cpu (or auto).")
        return torch.device("mps")
    raise DeviceError(f"unknown device '{name}'.", fix=f"Use one of {', '.join(DEVICES)} (or cuda:N).")
